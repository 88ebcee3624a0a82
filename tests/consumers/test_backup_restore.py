"""The backup and restore procedures of docs/operations.md, run as written: an online SQLite
backup taken while a writer has the store open, and pg_dump / pg_restore for PostgreSQL. The
restored store holds exactly the rows of the original, and the commands are the doc's."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from consumers.store.engine import create_engine
from tests.benchmarks.bench_store_size import MIX, fill, table_rows
from tests.support.database import create_database, drop_database, migrate_store
from tests.support.paths import DOCS

OPERATIONS = (DOCS / "operations.md").read_text()
SQLITE_BACKUP = (
    "python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' "
    "var/registry.db registry-backup.db"
)
PG_DUMP = 'pg_dump --format=custom --file=registry.dump "$DATABASE_URL"'
PG_RESTORE = 'pg_restore --no-owner --exit-on-error --dbname="$NEW_DATABASE_URL" registry.dump'


def test_the_doc_gives_these_commands() -> None:
    for command in (SQLITE_BACKUP, PG_DUMP, PG_RESTORE):
        assert command in OPERATIONS, command


def _shell(command: str, cwd: Path, env: dict[str, str] | None) -> None:
    """The doc's command line, as an operator types it."""
    done = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)  # noqa: S602
    assert done.returncode == 0, done.stderr


async def _rows(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        return await table_rows(engine)
    finally:
        await engine.dispose()


async def test_an_online_sqlite_backup_restores_every_row(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    url = f"sqlite:///{tmp_path / 'var' / 'registry.db'}"
    await migrate_store(url)
    engine = create_engine(url, writer=True)
    try:
        await fill(engine, 3000, 0.1, MIX)
        async with engine.connect():  # a consumer's connection stays open meanwhile
            command = SQLITE_BACKUP.replace("python3", sys.executable, 1)
            await asyncio.to_thread(_shell, command, tmp_path, None)
        original = await table_rows(engine)
    finally:
        await engine.dispose()
    with sqlite3.connect(tmp_path / "registry-backup.db") as backup:
        assert backup.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restored = tmp_path / "restored" / "registry.db"
    restored.parent.mkdir()
    shutil.copy(tmp_path / "registry-backup.db", restored)  # restore: the file back in place
    assert await _rows(f"sqlite:///{restored}") == original
    assert original["processed_events"] == 3000


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def test_pg_dump_and_pg_restore_restore_every_row(tmp_path: Path, postgres_admin_url: str) -> None:
    source = await create_database(postgres_admin_url)
    target = await create_database(postgres_admin_url)
    try:
        await migrate_store(source)
        engine = create_engine(source, writer=True)
        try:
            await fill(engine, 3000, 0.1, MIX)
        finally:
            await engine.dispose()
        env = {"DATABASE_URL": _libpq(source), "NEW_DATABASE_URL": _libpq(target), "PATH": "/usr/bin:/bin"}
        for command in (PG_DUMP, PG_RESTORE):
            await asyncio.to_thread(_shell, command, tmp_path, env)
        original, restored = await _rows(source), await _rows(target)
        assert restored == original and original["processed_events"] == 3000
    finally:
        await drop_database(postgres_admin_url, source)
        await drop_database(postgres_admin_url, target)
