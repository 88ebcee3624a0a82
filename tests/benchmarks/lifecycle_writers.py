"""Bulk writers for the benchmark's generated store: ``executemany`` in one transaction on
SQLite (times in SQLAlchemy's text form, so the app's comparisons hold), ``COPY`` on
PostgreSQL (asyncpg), then ``VACUUM ANALYZE`` there."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any, Protocol

import asyncpg
import orjson
from sqlalchemy.engine import make_url

from tests.benchmarks.lifecycle_store import Row

SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy's DateTime stores a time on SQLite
EVENTS = "SELECT sum(manifest_gets + manifest_heads + blob_gets + blob_heads) FROM pulls_daily"


class StoreWriter(Protocol):
    async def write(self, table: str, rows: list[Row]) -> None: ...

    async def finish(self) -> None: ...

    async def pull_events(self) -> int: ...


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime(SQLITE_TIME)
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


class SqliteWriter:
    def __init__(self, path: str) -> None:
        self.path = path
        self.db: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        if self.db is None:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=OFF")
            self.db.execute("BEGIN")
        return self.db

    async def write(self, table: str, rows: list[Row]) -> None:
        columns = list(rows[0])
        marks = ", ".join("?" * len(columns))
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        values = ([_sqlite_value(row[c]) for c in columns] for row in rows)
        self._open().executemany(statement, values)

    async def finish(self) -> None:
        db = self._open()
        db.execute("COMMIT")
        db.close()
        self.db = None

    async def pull_events(self) -> int:
        with sqlite3.connect(self.path) as db:
            return int(db.execute(EVENTS).fetchone()[0] or 0)


def _pg_value(value: Any) -> Any:
    return orjson.dumps(value).decode() if isinstance(value, dict | list) else value


class PostgresWriter:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.db: asyncpg.Connection | None = None

    async def _open(self) -> asyncpg.Connection:
        if self.db is None:
            self.db = await asyncpg.connect(self.dsn)
        return self.db

    async def write(self, table: str, rows: list[Row]) -> None:
        columns = list(rows[0])
        records = [tuple(_pg_value(row[c]) for c in columns) for row in rows]
        await (await self._open()).copy_records_to_table(table, records=records, columns=columns)

    async def finish(self) -> None:
        db = await self._open()
        await db.execute("VACUUM ANALYZE")
        await db.close()
        self.db = None

    async def pull_events(self) -> int:
        db = await asyncpg.connect(self.dsn)
        try:
            return int(await db.fetchval(EVENTS) or 0)
        finally:
            await db.close()


def writer_for(url: str) -> StoreWriter:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return SqliteWriter(str(parsed.database))
    return PostgresWriter(parsed.set(drivername="postgresql").render_as_string(hide_password=False))
