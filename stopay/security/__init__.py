"""Certificates and keys: pure code over the ``cryptography`` package, with no network I/O."""
