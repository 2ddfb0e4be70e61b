"""The signed text of an audit checkpoint, and the keys that sign it (stopay/security/checkpoints.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from stopay import bootstrap
from stopay.config import Settings
from stopay.security.checkpoints import (
    BadKey,
    Checkpoint,
    Signer,
    fingerprint,
    load_private_key,
    load_public_key,
    new_private_key,
    private_pem,
    public_pem,
    verify_signature,
)


def test_the_signed_text_is_fixed() -> None:
    at = datetime(2026, 12, 4, 19, 18, 25, 473811, tzinfo=timezone(timedelta(hours=8)))
    text = Checkpoint(at, "ab" * 32, 2, "cd" * 32).text()
    assert text == (
        b"stopay audit checkpoint v1\ntaken_at 2026-12-04T11:18:25.473811Z\nkey "
        + b"ab" * 32
        + b"\nheads 2\nroot "
        + b"cd" * 32
        + b"\n"
    )


def test_a_signature_verifies_only_for_its_checkpoint_and_key() -> None:
    key = load_private_key(private_pem(new_private_key()))
    public = load_public_key(public_pem(key.public_key()))
    signer = Signer(key)
    checkpoint = Checkpoint(datetime(2027, 1, 1, tzinfo=UTC), signer.fingerprint, 3, "0" * 64)
    signature = signer.sign(checkpoint)
    keys = {fingerprint(public): public}
    assert verify_signature(keys, checkpoint, signature) is None
    other = Checkpoint(checkpoint.taken_at, signer.fingerprint, 4, "0" * 64)
    assert "does not verify" in (verify_signature(keys, other, signature) or "")
    assert "not among" in (verify_signature({}, checkpoint, signature) or "")
    with pytest.raises(ValueError, match="another key"):
        signer.sign(Checkpoint(checkpoint.taken_at, "0" * 64, 3, "0" * 64))


def test_only_ed25519_keys_are_taken(tmp_path: Path) -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    pem = p256.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(BadKey, match="Ed25519"):
        load_private_key(pem)
    with pytest.raises(BadKey, match="Ed25519"):
        load_public_key(
            p256.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    with pytest.raises(BadKey):
        load_public_key(b"not a key")
    (tmp_path / "ec.pem").write_bytes(pem)
    with pytest.raises(bootstrap.ConfigError, match="ec.pem"):
        bootstrap.checkpoint_signer(Settings(checkpoint_key=tmp_path / "ec.pem"))
    with pytest.raises(bootstrap.ConfigError, match="cannot read"):
        bootstrap.checkpoint_signer(Settings(checkpoint_key=tmp_path / "absent.pem"))
