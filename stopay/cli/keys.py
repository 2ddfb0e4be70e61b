"""``stopay audit keygen`` and ``stopay audit checkpoint``: the Ed25519 key that signs checkpoints of
the audit chains, kept in files outside the database (docs/audit.md)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from stopay.cli.exits import LOCAL, Failure, database_failure, store_failure
from stopay.security import checkpoints as signing
from stopay.store.errors import StoreError

K = TypeVar("K")

PRIVATE_NAME = "checkpoint.key"
PUBLIC_NAME = "checkpoint.pub"


def keygen(folder: str) -> int:
    """Writes DIR/checkpoint.key (0600, never over an existing file) and DIR/checkpoint.pub."""
    target = Path(folder)
    key = signing.new_private_key()
    try:
        target.mkdir(parents=True, exist_ok=True)
        fd = os.open(target / PRIVATE_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise Failure(LOCAL, f"{target / PRIVATE_NAME} exists already: keep it, or move it away first") from None
    except OSError as exc:
        raise Failure(LOCAL, f"cannot write {target / PRIVATE_NAME}: {exc.strerror}") from exc
    with open(fd, "wb") as handle:
        handle.write(signing.private_pem(key))
    (target / PUBLIC_NAME).write_bytes(signing.public_pem(key.public_key()))
    print(
        f"wrote {target / PRIVATE_NAME} (keep it off the database host's backups) and {target / PUBLIC_NAME};"
        f" key {signing.fingerprint(key.public_key())}",
        file=sys.stderr,
    )
    return 0


def read_private_key(path: str | Path) -> Ed25519PrivateKey:
    return _read_key(path, signing.load_private_key, "the checkpoint key")


def read_public_key(path: str | Path) -> Ed25519PublicKey:
    return _read_key(path, signing.load_public_key, "the public key")


def _read_key(path: str | Path, load: Callable[[bytes], K], what: str) -> K:
    try:
        return load(Path(path).read_bytes())
    except OSError as exc:
        raise Failure(LOCAL, f"cannot read {what} {path}: {exc.strerror}") from exc
    except signing.BadKey as exc:
        raise Failure(LOCAL, f"{path}: {exc}") from exc


def public_pem(key: Ed25519PublicKey) -> bytes:
    return signing.public_pem(key)


async def checkpoint(key_path: str, dsn: str) -> int:
    from stopay.store import checkpoints
    from stopay.store.database import open_pool

    signer = signing.Signer(read_private_key(key_path))
    try:
        pool = await open_pool(dsn, min_size=1, max_size=1, run_migrations=False)
    except StoreError as exc:
        raise database_failure(exc, dsn) from exc
    try:
        written = await checkpoints.write(pool, signer)
    except StoreError as exc:
        raise store_failure(exc) from exc
    finally:
        await pool.close()
    taken_at = written.taken_at.isoformat() if written.taken_at else "-"
    print(
        f"checkpoint {written.checkpoint_id}: {written.heads} chain heads at {taken_at}, root {written.root_hash}",
        file=sys.stdout,
    )
    return 0
