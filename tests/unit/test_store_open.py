"""Opening the database: a failure is a StoreError with the driver's error as its cause."""

from __future__ import annotations

import socket

import pytest

from stopay.store.database import ensure_database, open_pool
from stopay.store.errors import StoreError
from stopay.store.roles import migrate_as_owner


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("step", ["ensure_database", "open_pool", "migrate_as_owner"])
async def test_an_unreachable_server_is_a_store_error_caused_by_the_drivers(step: str) -> None:
    dsn = f"postgresql://nobody@127.0.0.1:{_closed_port()}/stopay?connect_timeout=2"
    with pytest.raises(StoreError) as raised:
        if step == "ensure_database":
            await ensure_database(dsn, dsn, "stopay")
        elif step == "open_pool":
            await open_pool(dsn)
        else:
            await migrate_as_owner(dsn)
    assert isinstance(raised.value.__cause__, OSError)


async def test_a_multi_host_dsn_with_no_host_up_is_unreachable_and_names_every_host() -> None:
    from stopay.cli.exits import UNREACHABLE, database_failure

    hosts = f"127.0.0.1:{_closed_port()},127.0.0.1:{_closed_port()}"
    dsn = f"postgresql://nobody:secret@{hosts}/stopay?target_session_attrs=read-write&connect_timeout=2"
    with pytest.raises(StoreError) as raised:
        await open_pool(dsn)
    failure = database_failure(raised.value, dsn)
    assert failure.status == UNREACHABLE
    assert f"{hosts}/stopay" in failure.message and "secret" not in failure.message
