"""The databases the store tests run against: SQLite (a fresh file per test) and
PostgreSQL (a fresh database per test, dropped after). PostgreSQL is, in this order:

1. ``REGBRIDGE_TEST_POSTGRES_URL`` when set (a server someone runs for us);
2. a testcontainers PostgreSQL when a Docker engine answers;
3. the local server at ``postgresql://postgres@127.0.0.1:5432/test``.

There is no skip: an unreachable server fails the tests that need it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from consumers.store import migrate
from consumers.store.engine import create_engine
from consumers.store.tables import metadata
from tests.support.broker import docker_engine_answers

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def postgres_server() -> Iterator[str]:
    """The admin URL of a PostgreSQL server for this test session."""
    external = os.environ.get("REGBRIDGE_TEST_POSTGRES_URL", "").strip()
    if external:
        yield external
        return
    if docker_engine_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
        return
    yield LOCAL_POSTGRES


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_database(admin_url: str) -> str:
    """A fresh, empty database on the server; returns its URL."""
    name = f"rb_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return (
        make_url(admin_url).set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    )


async def drop_database(admin_url: str, database_url: str) -> None:
    name = make_url(database_url).database
    connection = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def migrate_store(database_url: str) -> None:
    await migrate.upgrade_url(database_url)


async def read_table(database_url: str, table: str, where: str = "") -> list[dict[str, Any]]:
    """Every row of a store table, as dicts (``where`` is a SQL condition)."""
    engine = create_engine(database_url)
    try:
        query: Any = select(metadata.tables[table])
        if where:
            query = query.where(text(where))
        async with engine.connect() as connection:
            return [dict(row._mapping) for row in await connection.execute(query)]
    finally:
        await engine.dispose()


async def count_rows(database_url: str, table: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608
    finally:
        await engine.dispose()


async def processed_count(database_url: str, handler: str) -> int:
    """Event ids the handler has persisted (-1 while the schema does not exist)."""
    try:
        return len(await read_table(database_url, "processed_events", f"handler = '{handler}'"))
    except Exception:
        return -1
