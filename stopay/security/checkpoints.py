"""Signed checkpoints of the audit chains' heads, with Ed25519 (the ``cryptography`` package).

A checkpoint says: at ``taken_at`` (the database's time of the snapshot), the ``heads`` chains with
at least one event ended as the root digest ``root_hash`` says (``stopay/store/audit.py``
root_digest over ``case_id:seq:hash`` lines). The signed text is :meth:`Checkpoint.text`::

    stopay audit checkpoint v1
    taken_at 2026-12-04T19:00:00.123456Z
    key <SHA-256 of the raw public key, hex>
    heads <number of heads>
    root <root digest, hex>

each line ending in a newline, UTF-8. The private key stays in a file outside the database; whoever
holds only the public key can check every checkpoint, and nobody without the private key can write
one that verifies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

VERSION_LINE = "stopay audit checkpoint v1"


class BadKey(ValueError):
    """A key file that is not an Ed25519 key of the kind asked for."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    taken_at: datetime
    key_fingerprint: str
    heads: int
    root_hash: str

    def text(self) -> bytes:
        u = self.taken_at.astimezone(UTC)
        when = f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"
        return (
            f"{VERSION_LINE}\ntaken_at {when}\nkey {self.key_fingerprint}\nheads {self.heads}\nroot {self.root_hash}\n"
        ).encode()


def new_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise BadKey(f"not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BadKey(f"an Ed25519 private key is needed, not {type(key).__name__}")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise BadKey(f"not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BadKey(f"an Ed25519 public key is needed, not {type(key).__name__}")
    return key


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the raw 32-byte public key: names the key in every checkpoint it signs."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class Signer:
    """Signs checkpoints with a private key."""

    key: Ed25519PrivateKey

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key.public_key())

    def sign(self, checkpoint: Checkpoint) -> bytes:
        if checkpoint.key_fingerprint != self.fingerprint:
            raise ValueError("the checkpoint names another key than the one signing it")
        return self.key.sign(checkpoint.text())


def verify_signature(keys: dict[str, Ed25519PublicKey], checkpoint: Checkpoint, signature: bytes) -> str | None:
    """None when ``signature`` is the checkpoint's, by the key it names among ``keys`` (by
    fingerprint); else what is wrong."""
    key = keys.get(checkpoint.key_fingerprint)
    if key is None:
        return f"signed by key {checkpoint.key_fingerprint[:16]}…, which is not among the public keys given"
    try:
        key.verify(signature, checkpoint.text())
    except InvalidSignature:
        return f"the signature does not verify with key {checkpoint.key_fingerprint[:16]}…"
    return None
