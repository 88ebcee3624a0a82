"""The upgrade and rollback procedure of docs/operations.md on a real store, with the real
commands: a consumer that may not migrate refuses an older schema and names the command; ``db
upgrade`` brings it up; ``db downgrade`` takes it back for the older version, which a newer
schema would otherwise stop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from consumers.errors import StoreError
from consumers.store import migrate
from consumers.store.engine import create_engine
from consumers.store.startup import open_store
from tests.support.paths import DOCS
from tests.support.processes import clean_env

CONSUMER = [sys.executable, "-m", "consumers"]


def _db(url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(REGBRIDGE_DATABASE_URL=url, REGBRIDGE_LOG_LEVEL="WARNING")
    return subprocess.run([*CONSUMER, "db", *argv], env=env, capture_output=True, text=True, timeout=120)


async def _schema(url: str) -> dict[str, set[str]]:
    """Table → column names."""

    def read(sync: Connection) -> dict[str, set[str]]:
        found = inspect(sync)
        return {table: {c["name"] for c in found.get_columns(table)} for table in found.get_table_names()}

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()


async def _migrated(url: str, revision: str) -> None:
    engine = create_engine(url, writer=True)
    try:
        await migrate.upgrade(engine, revision)
    finally:
        await engine.dispose()


def _previous(revision: str) -> str:
    down = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(revision).down_revision
    assert isinstance(down, str), "a linear history"
    return down


async def _refusal(url: str) -> str:
    engine = create_engine(url)
    try:
        with pytest.raises(StoreError) as refused:
            await open_store(engine, url, migrating=False, within=0)
        return str(refused.value)
    finally:
        await engine.dispose()


async def test_upgrade_then_roll_back(tmp_path: Path) -> None:
    """From the previous release's schema (the revision before head) up to head and back,
    whatever the latest migration is."""
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    head = migrate.head_revision()
    assert head is not None
    previous = _previous(head)
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    await _migrated(reference, previous)
    await _migrated(url, previous)  # the store as the previous release left it
    assert "run registry-consumer db upgrade first" in await _refusal(url)

    upgraded = _db(url, "upgrade")
    assert upgraded.returncode == 0 and upgraded.stdout.strip() == f"schema at revision {head}", (
        upgraded.stderr
    )
    assert await _schema(url) != await _schema(reference), "the head migration changes the schema"

    rolled_back = _db(url, "downgrade", previous)
    assert rolled_back.returncode == 0, rolled_back.stderr
    assert rolled_back.stdout.strip() == f"schema at revision {previous}"
    assert await _schema(url) == await _schema(reference), f"what {head} added is gone"
    current = _db(url, "current")
    assert current.stdout.strip() == f"schema at revision {previous}; latest is {head}"


def test_an_unknown_revision_is_refused_before_anything_changes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    refused = _db(url, "downgrade", "0042")
    assert refused.returncode == 2 and "'0042' is not a revision of this version" in refused.stderr
    assert not (tmp_path / "registry.db").exists()


def test_the_doc_gives_the_order_and_the_commands() -> None:
    operations = (DOCS / "operations.md").read_text()
    for command in (
        "registry-consumer db upgrade",
        "registry-consumer db downgrade",
        "registry-consumer db current",
    ):
        assert command in operations
