"""The async SQLAlchemy engine, built from ``REGBRIDGE_DATABASE_URL``.

Operators write plain URLs; the async driver is picked here:

* ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` → aiosqlite (the parent
  directory is created; WAL journal, ``synchronous=NORMAL``, a busy timeout and
  ``BEGIN IMMEDIATE`` transactions, so the three consumers can share one file, and
  migrations are atomic);
* ``postgresql://user@host:5432/db`` (or ``postgres://``) → asyncpg.

A URL that already names a driver (``sqlite+aiosqlite``, ``postgresql+asyncpg``) is kept.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from common.environ import ConfigError

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}
SQLITE_BUSY_TIMEOUT_MS = 5000


def async_url(text: str) -> URL:
    """The URL with its async driver; raises ConfigError for anything else."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise ConfigError(f"REGBRIDGE_DATABASE_URL={text!r} is not a database URL") from None
    backend = url.get_backend_name()
    if url.drivername in _ASYNC_DRIVERS:
        url = url.set(drivername=_ASYNC_DRIVERS[url.drivername])
    elif backend not in ("sqlite", "postgresql") or url.get_driver_name() not in ("aiosqlite", "asyncpg"):
        raise ConfigError(
            f"REGBRIDGE_DATABASE_URL: unsupported database {url.drivername!r} (use sqlite:// or postgresql://)"
        )
    return url


def _prepare_sqlite_file(url: URL) -> None:
    """Create the file's directory when it can; when it cannot, SQLite fails to open the
    file at the first connection, and that failure is explained (``store.diagnosis``)."""
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        with contextlib.suppress(OSError):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling would commit DDL statement by statement (a
    # crash mid-migration would leave half a schema); SQLAlchemy emits BEGIN instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def _sqlite_begin_immediate(connection: Any) -> None:
    """Take the write lock up front, so concurrent writers (three consumers on one file,
    migrations at start) queue on the busy timeout instead of failing to upgrade a read
    lock."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(database_url: str, *, writer: bool = False) -> AsyncEngine:
    """An engine for the URL; the caller owns it and must ``await engine.dispose()``.
    ``writer``: every SQLite transaction takes the write lock at once (the consumers);
    readers such as a dashboard leave it off."""
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite":
        _prepare_sqlite_file(url)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate if writer else _sqlite_begin)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2)


def redacted(database_url: str) -> str:
    """The URL with its password hidden, for logs."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid url>"
