"""The ``stopay`` command: serve, the station client, and the demo."""
