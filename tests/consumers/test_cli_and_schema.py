"""The CLI (exit codes, ``db upgrade``), migrations against both databases, the
metrics server, and the layering rule (consumers never load the HTTP stack)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Connection, func, inspect, select

from consumers.cli import main
from consumers.metrics import ConsumerMetrics
from consumers.metrics_server import MetricsServer
from consumers.store import migrate
from consumers.store.engine import create_engine
from consumers.store.tables import metadata, pushes, repositories
from tests.support.processes import clean_env


def test_a_bad_variable_exits_with_status_2() -> None:
    env = {"REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": "k:9092", "REGBRIDGE_CONSUMER_BATCH_MAX_RECORDS": "lots"}
    result = CliRunner().invoke(main, ["run", "pull"], env=env)
    assert result.exit_code == 2
    assert "REGBRIDGE_CONSUMER_BATCH_MAX_RECORDS" in result.output


def test_an_unsupported_database_exits_with_status_2() -> None:
    result = CliRunner().invoke(main, ["db", "upgrade"], env={"REGBRIDGE_DATABASE_URL": "mysql://x/y"})
    assert result.exit_code == 2


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'store.db'}"
    result = CliRunner().invoke(main, ["db", "upgrade"], env={"REGBRIDGE_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert f"schema at revision {migrate.head_revision()}" in result.output
    again = CliRunner().invoke(main, ["db", "current"], env={"REGBRIDGE_DATABASE_URL": url})
    assert f"schema at revision {migrate.head_revision()};" in again.output


def _differences(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


async def test_the_migrations_build_exactly_the_declared_tables(store_url: str) -> None:
    """``store_url`` is migrated by its fixture (SQLite and PostgreSQL)."""
    engine = create_engine(store_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
        assert await migrate.current_revision(engine) == migrate.head_revision()
        await migrate.upgrade(engine)  # idempotent
    finally:
        await engine.dispose()


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_revision_0003_only_adds_the_pushes_table(empty_store_url: str) -> None:
    """A store at 0002 that holds data upgrades in place: its rows stay, ``pushes`` is new."""
    engine = create_engine(empty_store_url)
    seen = datetime(2026, 11, 29, 2, 3)
    try:
        await migrate.upgrade(engine, "0002")
        async with engine.begin() as connection:
            row = {"name": "team/a", "first_seen_at": seen, "last_event_at": seen}
            await connection.execute(repositories.insert().values(**row))
            before = await connection.run_sync(_table_names)
        await migrate.upgrade(engine, "0003")
        async with engine.connect() as connection:
            assert await connection.run_sync(_table_names) - before == {"pushes"}
            assert (await connection.execute(select(repositories.c.name))).scalars().all() == ["team/a"]
            assert (await connection.execute(select(func.count()).select_from(pushes))).scalar_one() == 0
        assert await migrate.current_revision(engine) == "0003"
    finally:
        await engine.dispose()


async def _get(port: int, path: str) -> tuple[str, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    response = (await reader.read()).decode()
    writer.close()
    head, _, body = response.partition("\r\n\r\n")
    return head.splitlines()[0], body


async def test_the_metrics_server_serves_metrics_and_health() -> None:
    metrics = ConsumerMetrics("pull")
    metrics.processed(3)
    healthy = [True]
    server = MetricsServer(
        metrics.registry, lambda: (healthy[0], "ok" if healthy[0] else "stale"), "127.0.0.1", 0
    )
    await server.start()
    try:
        status, body = await _get(server.port, "/metrics")
        assert status.endswith("200 OK")
        assert 'regbridge_consumer_processed_total{handler="pull"} 3.0' in body
        assert (await _get(server.port, "/healthz"))[0].endswith("200 OK")
        healthy[0] = False
        assert (await _get(server.port, "/healthz")) == (
            "HTTP/1.1 503 Service Unavailable",
            '{"status":"stale"}',
        )
        assert (await _get(server.port, "/nope"))[0].endswith("404 Not Found")
    finally:
        await server.stop()


def test_consumers_do_not_load_the_dashboards_web_framework() -> None:
    """The consumer processes serve /metrics with prometheus_client's ASGI app under uvicorn;
    Starlette (the dashboard's) stays out."""
    code = (
        "import sys, consumers.cli, consumers.process, consumers.relay.process\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'starlette')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_taken_metrics_port_is_one_error_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = clean_env(
            REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",
            REGBRIDGE_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}",
            REGBRIDGE_METRICS_PORT=str(port),
            REGBRIDGE_LOG_FORMAT="json",
        )
        argv = [sys.executable, "-m", "consumers", "run", "pull"]
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"registry-consumer: cannot serve /metrics on 127.0.0.1:{port}: Address already in use"]
    assert "Traceback" not in result.stdout + result.stderr
    assert '"level":"error"' not in result.stdout  # said once, by the CLI
