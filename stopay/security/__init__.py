"""Cryptography of stopay, pure: keys, signatures and the texts they cover (no I/O)."""
