"""Cryptography of stopay, pure: certificates, keys, signatures and the texts they cover (no network I/O)."""
