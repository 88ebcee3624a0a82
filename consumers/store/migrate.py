"""Schema migrations through the Alembic API, with the scripts packaged in
``consumers/store/migrations``. ``registry-consumer db upgrade`` runs them, and so does
every consumer at start. Concurrent starts are safe: PostgreSQL serialises them with
an advisory lock, and a start that loses a race on SQLite retries.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from common.retry import Backoff, retry
from consumers.store.engine import create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_KEY = 0x52424D47  # "RBMG": one advisory lock for every migrating process
RACE_BACKOFF = Backoff(initial=0.2, maximum=1.0)  # another process migrating at the same moment
_ATTEMPTS = 5


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def known_revisions() -> set[str]:
    """Every revision this version's migrations know."""
    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _upgrade(connection: Connection, revision: str) -> None:
    _lock(connection)
    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    _lock(connection)
    command.downgrade(alembic_config(connection), revision)


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; retries when another process migrates at once."""

    async def once() -> None:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, revision)

    await retry(once, RACE_BACKOFF, retry_on=lambda exc: isinstance(exc, DBAPIError), max_attempts=_ATTEMPTS)


async def upgrade_url(database_url: str) -> str | None:
    """Migrate the store at ``database_url`` with an engine of its own; the revision reached."""
    engine = create_engine(database_url, writer=True)
    try:
        await upgrade(engine)
        return await current_revision(engine)
    finally:
        await engine.dispose()


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Take the schema back to ``revision`` (rolling back to an older version): what the
    later migrations added is dropped, rows included. One transaction."""
    async with engine.begin() as connection:
        await connection.run_sync(_downgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)
