"""What the page's live mode costs the store, against reloading everything.

Not a test (pytest does not collect it). Run it with

    .venv/bin/python -m tests.benchmarks.bench_dashboard_live [--events 300000] [--days 7]
        [--backends sqlite,postgresql] [--requests 300]

It fills a store through the real handlers and store sink (``bench_store_size.fill``:
registry-shaped pulls, pushes, mounts and deletes spread over ``--days``), then drives the
dashboard app in this process (httpx's ASGI transport) with its clock at the end of the data,
and reports, per request: CPU microseconds of this process (``time.process_time``: on SQLite
that includes the database's own work, which runs in process; on PostgreSQL the server's
work is in another process, so the store's side is given as buffer pages touched and
execution time from ``EXPLAIN (ANALYZE, BUFFERS)``), and wall milliseconds (loaded machine:
indicative only). Cases: the live check (``/api/v1/changes``), and a full reload as the page
makes it (the check and the 7 reads) over 1 hour and over 7 days.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import text
from starlette.types import Receive, Scope, Send

from consumers.dashboard.app import create_app
from consumers.dashboard.settings import DashboardSettings
from consumers.store.engine import create_engine
from tests.benchmarks.bench_consumers import START
from tests.benchmarks.bench_store_size import MIX, fill
from tests.support.database import LOCAL_POSTGRES, create_database, drop_database, migrate_store

CHECK = ["/api/v1/changes"]


def reload_paths(window: str) -> list[str]:
    """What the page asks for in one reload (dashboard.js ``refresh``), no repository filter."""
    q = f"range={window}"
    return [
        "/api/v1/changes",
        f"/api/v1/summary?{q}",
        f"/api/v1/load?{q}",
        f"/api/v1/top/images?{q}&limit=10",
        f"/api/v1/top/clients?{q}&limit=10",
        f"/api/v1/activity?{q}&action=push&kind=manifest&limit=10",
        f"/api/v1/audit?{q}&limit=10",
        "/api/v1/repositories?limit=100",
    ]


@dataclass
class Cost:
    case: str
    requests: int
    cpu_us: float  # per round (one check, or one reload), this process
    wall_ms: float


async def rounds(client: httpx.AsyncClient, case: str, paths: list[str], count: int) -> Cost:
    for path in paths:  # warm up, and fail loudly on anything but 200
        answer = await client.get(path)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        for path in paths:
            await client.get(path)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return Cost(case, len(paths), cpu / count * 1e6, wall / count * 1e3)


async def measure(url: str, days: float, count: int) -> list[Cost]:
    settings = DashboardSettings(database_url=url)
    end = START + timedelta(days=days)
    app = create_app(settings, lambda: create_engine(url), clock=lambda: end)
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
            scope["state"] = dict(state or {})  # what a server does with the lifespan's state
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8090") as client:
            return await all_cases(client, count)


async def all_cases(client: httpx.AsyncClient, count: int) -> list[Cost]:
    return [
        await rounds(client, "live check (/changes)", CHECK, count),
        await rounds(client, "full reload, 1 h", reload_paths("1h"), max(10, count // 10)),
        await rounds(client, "full reload, 7 days", reload_paths("7d"), max(3, count // 100)),
    ]


PG_CHECK = [
    "SELECT max(processed_at) FROM processed_events",
    "SELECT max(started_at) FROM pipeline_uptime",
]


async def postgres_plan(url: str) -> list[str]:
    """Buffers and execution time of the live check's two queries, on the server."""
    engine = create_engine(url)
    found = []
    try:
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
            for query in PG_CHECK:
                plan = await connection.execute(text(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) {query}"))
                lines = [row[0] for row in plan]
                found.append(f"{query}:\n    " + "\n    ".join(lines))
    finally:
        await engine.dispose()
    return found


async def filled(url: str, events: int, days: float) -> dict[str, int]:
    await migrate_store(url)
    engine = create_engine(url, writer=True)
    try:
        return await fill(engine, events, days, MIX)
    finally:
        await engine.dispose()


def report(backend: str, stored: dict[str, int], costs: list[Cost]) -> str:
    lines = [f"== {backend}: {sum(stored.values()):,} events stored {stored} =="]
    lines.append(f"{'case':28} {'requests':>8} {'CPU µs/round':>13} {'wall ms/round':>14}")
    for cost in costs:
        lines.append(f"{cost.case:28} {cost.requests:>8} {cost.cpu_us:>13,.0f} {cost.wall_ms:>14,.1f}")
    return "\n".join(lines)


async def run(backends: list[str], events: int, days: float, count: int) -> None:
    logging.disable(logging.INFO)  # the request log line is not what is measured here
    for backend in backends:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as workdir:
                url = f"sqlite:///{Path(workdir) / 'store.db'}"
                stored = await filled(url, events, days)
                print(report(backend, stored, await measure(url, days, count)), flush=True)
            continue
        url = await create_database(LOCAL_POSTGRES)
        try:
            stored = await filled(url, events, days)
            print(report(backend, stored, await measure(url, days, count)), flush=True)
            print("\n".join(await postgres_plan(url)), flush=True)
        finally:
            await drop_database(LOCAL_POSTGRES, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=300, help="live checks timed (reloads: a tenth)")
    args = parser.parse_args()
    asyncio.run(run(args.backends.split(","), args.events, args.days, args.requests))


if __name__ == "__main__":
    main()
