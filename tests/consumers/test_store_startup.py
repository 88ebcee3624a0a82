"""A store that cannot be used at start-up is explained in one line that says what to fix,
then the process exits 1: no traceback, no "Unclosed AIOKafka…" noise.

Run as real processes against the real local PostgreSQL (a role that does not exist, a
database that does not exist, a role without the right to create tables, a port nothing
listens on, a host nobody knows) and real SQLite paths that cannot be opened, with a start
window of one second (``REGBRIDGE_STORE_START_TIMEOUT_SECONDS``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from consumers.errors import is_transient
from consumers.store.diagnosis import diagnose
from consumers.store.engine import create_engine
from devstack.ports import free_port
from tests.support.database import create_database, drop_database, migrate_store
from tests.support.processes import clean_env

CONSUMER = [sys.executable, "-m", "consumers"]


def _run(argv: list[str], url: str, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    settings = {
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "REGBRIDGE_DATABASE_URL": url,
        "REGBRIDGE_METRICS_PORT": "0",
        "REGBRIDGE_DASHBOARD_PORT": str(free_port()),
        "REGBRIDGE_STORE_START_TIMEOUT_SECONDS": "1",
        "REGBRIDGE_LOG_FORMAT": "json",
    }
    env = clean_env(**{**settings, **extra})
    argv = [*CONSUMER, *argv]
    return subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90)


def _one_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """The process exited 1 with exactly one line on stderr holding ``expected``; its log
    lines are JSON, without a traceback or an unclosed client."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("registry-consumer: "), line
    for words in expected:
        assert words in line, line
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything and "Unclosed" not in everything, everything
    for log_line in result.stdout.splitlines():
        if log_line.startswith("{"):  # the dashboard also prints its URL
            assert "exc" not in json.loads(log_line), log_line
    return line


def _warned(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The problems logged while it retried."""
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return [r["problem"] for r in records if r.get("msg") == "the store cannot be used yet; retrying"]


@pytest.fixture
async def unprivileged(postgres_admin_url: str) -> AsyncIterator[str]:
    """A URL for a fresh database and a fresh role that may log in, nothing more (PostgreSQL
    15 and later: no CREATE on the schema public for others than the owner)."""
    database = await create_database(postgres_admin_url)
    role = f"rb_role_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(make_url(postgres_admin_url).render_as_string(hide_password=False))
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN')
        yield make_url(database).set(username=role).render_as_string(hide_password=False)
    finally:
        await drop_database(postgres_admin_url, database)
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()


def _postgres(admin_url: str, **parts: object) -> str:
    return make_url(admin_url).set(drivername="postgresql", **parts).render_as_string(hide_password=False)  # type: ignore[arg-type]


def test_a_role_that_does_not_exist(tmp_path: Path, postgres_admin_url: str) -> None:
    role = f"rb_missing_{uuid.uuid4().hex[:8]}"
    result = _run(["run", "push"], _postgres(postgres_admin_url, username=role), tmp_path)
    _one_line(result, f"has no role '{role}'", "CREATE ROLE", "REGBRIDGE_DATABASE_URL", "after 1s")
    assert _warned(result) and all(f"no role '{role}'" in p for p in _warned(result)), "said at once"


def test_a_database_that_does_not_exist(tmp_path: Path, postgres_admin_url: str) -> None:
    name = f"rb_missing_{uuid.uuid4().hex[:8]}"
    result = _run(["run", "pull"], _postgres(postgres_admin_url, database=name), tmp_path)
    _one_line(result, f"has no database '{name}'", "createdb")


def test_a_role_that_may_not_create_the_tables(tmp_path: Path, unprivileged: str) -> None:
    result = _run(["run", "other"], unprivileged, tmp_path)
    _one_line(result, "may not create the store's tables", "OWNER TO")


def test_nothing_listening_on_the_port(tmp_path: Path, postgres_admin_url: str) -> None:
    port = free_port()
    result = _run(["run", "push"], _postgres(postgres_admin_url, host="127.0.0.1", port=port), tmp_path)
    _one_line(result, f"nothing accepts connections at 127.0.0.1:{port}", "connection refused")


def test_an_unknown_host(tmp_path: Path, postgres_admin_url: str) -> None:
    result = _run(["run", "push"], _postgres(postgres_admin_url, host="no-such-host.invalid"), tmp_path)
    _one_line(result, "the database host 'no-such-host.invalid' is unknown")


def test_sqlite_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    result = _run(["run", "push"], f"sqlite:///{tmp_path / 'file' / 'store.db'}", tmp_path)
    _one_line(result, "cannot open the SQLite store", f"{tmp_path / 'file'} is a file, not a directory")


def test_sqlite_where_no_file_can_be_made(tmp_path: Path) -> None:
    """/proc takes no new file, not even from root (the tests run as root, where a
    read-only directory would not stop SQLite)."""
    result = _run(["run", "push"], "sqlite:////proc/registry.db", tmp_path)
    _one_line(
        result, "cannot open the SQLite store /proc/registry.db", "SQLite cannot create a file in /proc"
    )


def test_the_dashboard_and_db_upgrade_say_the_same(tmp_path: Path, postgres_admin_url: str) -> None:
    role = f"rb_missing_{uuid.uuid4().hex[:8]}"
    url = _postgres(postgres_admin_url, username=role)
    _one_line(_run(["dashboard"], url, tmp_path), f"has no role '{role}'")
    upgrade = _run(["db", "upgrade"], url, tmp_path)
    assert "after" not in _one_line(upgrade, f"has no role '{role}'"), "db upgrade tries once"
    _one_line(_run(["db", "current"], url, tmp_path), f"has no role '{role}'")


async def test_a_schema_newer_than_this_version_is_not_retried(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    await migrate_store(url)
    engine = create_engine(url, writer=True)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    finally:
        await engine.dispose()
    result = _run(["run", "push"], url, tmp_path, REGBRIDGE_STORE_START_TIMEOUT_SECONDS="30")
    line = _one_line(result, "revision 0999, newer than this version knows", "restore the backup")
    assert "after" not in line and _warned(result) == [], "not retried"


def test_a_consumer_that_must_not_migrate_wants_db_upgrade_first(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    result = _run(["run", "pull"], url, tmp_path, REGBRIDGE_CONSUMER_MIGRATE_ON_START="false")
    _one_line(result, "schema is at revision (none)", "run registry-consumer db upgrade first")


async def test_a_refused_connection_is_transient_never_a_dead_letter(postgres_admin_url: str) -> None:
    """Mid-run, a role or database that went away must be retried with the position kept,
    not dead-letter every record of the batch."""
    url = _postgres(postgres_admin_url, username=f"rb_missing_{uuid.uuid4().hex[:8]}")
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except DBAPIError as exc:
        assert is_transient(exc)
        assert diagnose(exc, url) is not None
    else:
        pytest.fail("the connection should have been refused")
    finally:
        await engine.dispose()


def test_a_wrong_password_is_named_without_the_password() -> None:
    """The local server trusts every local connection, so a wrong password cannot be made
    there: the driver's own error class, as asyncpg raises it, stands in."""
    error = asyncpg.exceptions.InvalidPasswordError('password authentication failed for user "bridge"')
    line = diagnose(error, "postgresql://bridge:s3cret@db.internal:5433/registry")
    assert line is not None
    assert "refused the password of 'bridge'" in line and "db.internal:5433" in line
    assert "s3cret" not in line
