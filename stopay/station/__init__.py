"""The station's entry client: the officer's form and the victim's screen, served on the station PC."""
