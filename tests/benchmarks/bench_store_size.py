"""Store size: bytes per million events on SQLite and PostgreSQL, table by table.

Not a test (pytest does not collect it; ``tests/benchmarks/test_store_size_smoke.py`` runs it
small). It measures size, not speed, so it may run on a shared machine:

    .venv/bin/python -m tests.benchmarks.bench_store_size [--events 1000000] [--days 1]
        [--backends sqlite,postgresql] [--mix pull=0.80,push=0.15,other=0.05]

Events are registry-shaped (the consumer benchmark's generators: pull sessions of a HEAD and
a GET of a manifest then six blob GETs, from 300 clients over 100 repositories of skewed
popularity; CI pushes of blobs and manifests over 1,000 repositories; mounts and deletes),
spread evenly over ``--days`` of registry time (per-minute buckets make the size depend
on the rate as well as on the count). They go through the real handlers and the real store
sink (one transaction per batch of 5,000, processed event ids included), exactly as the
consumers store them. Sizes: SQLite's file after a WAL checkpoint, as written and after
``VACUUM``; PostgreSQL's ``pg_total_relation_size`` (table, indexes, TOAST) of each table
after ``VACUUM``, less a freshly migrated store's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.contract import Event
from common.retry import Backoff
from consumers.handlers import HANDLERS
from consumers.handlers.base import Delivery, HandlerOptions, parse_timestamp
from consumers.metrics import ConsumerMetrics
from consumers.runner import StopRequest, StoreSink, TransientRetry
from consumers.runner.batch import Item
from consumers.store.engine import create_engine
from consumers.store.tables import metadata
from tests.benchmarks.bench_consumers import START, makers
from tests.support.database import LOCAL_POSTGRES, create_database, drop_database, migrate_store

MIX = {"pull": 0.80, "push": 0.15, "other": 0.05}
BATCH = 5000
MILLION = 1_000_000


@dataclass
class Figures:
    backend: str
    stored: dict[str, int]  # events stored, per handler
    bytes: int  # the store's growth, compacted (SQLite after VACUUM; PostgreSQL after VACUUM)
    written: int  # as written, before compaction (SQLite; the same as ``bytes`` on PostgreSQL)
    tables: dict[str, int] = field(default_factory=dict)  # bytes per table, indexes included
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return sum(self.stored.values())


def events(
    count: int, days: float, mix: dict[str, float], seed: int = 7
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``count`` (handler, raw event) pairs in the given mix, evenly over ``days``."""
    rng = random.Random(seed)
    make = makers(rng)
    names, weights = list(mix), list(mix.values())
    step = timedelta(days=days) / max(count, 1)
    for i in range(count):
        handler = rng.choices(names, weights)[0]
        raw = make[handler](i)
        raw["timestamp"] = (START + step * i).isoformat().replace("+00:00", "Z")
        yield handler, raw


def _item(handler: str, raw: dict[str, Any], sink: StoreSink, offset: int) -> Item:
    event = Event.from_raw(raw)
    moment = parse_timestamp(event.timestamp) or datetime.now()
    delivery = Delivery(event, moment, f"registry.events.{handler}", 0, offset)
    return Item(None, delivery, sink.plan(delivery))


async def fill(engine: AsyncEngine, count: int, days: float, mix: dict[str, float]) -> dict[str, int]:
    """Store ``count`` events through the real sinks; how many each handler stored."""
    stop = StopRequest()
    sinks = {
        name: StoreSink(
            handler(HandlerOptions()), engine, TransientRetry(Backoff(), stop, ConsumerMetrics(name))
        )
        for name, handler in HANDLERS.items()
    }
    pending: dict[str, list[Item]] = {name: [] for name in sinks}
    stored = dict.fromkeys(sinks, 0)
    for offset, (handler, raw) in enumerate(events(count, days, mix)):
        pending[handler].append(_item(handler, raw, sinks[handler], offset))
        if len(pending[handler]) >= BATCH:
            stored[handler] += (await sinks[handler].take(pending[handler])).stored
            pending[handler] = []
    for handler, items in pending.items():
        stored[handler] += (await sinks[handler].take(items)).stored
    return stored


async def table_rows(engine: AsyncEngine) -> dict[str, int]:
    rows = {}
    async with engine.connect() as connection:
        for table in metadata.sorted_tables:
            count = select(func.count()).select_from(table)
            rows[table.name] = int((await connection.execute(count)).scalar_one())
    return rows


async def postgres_bytes(engine: AsyncEngine) -> dict[str, int]:
    """Each table's bytes, indexes and TOAST included, after VACUUM."""
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE"))
        sizes = {}
        for table in metadata.sorted_tables:
            query = text("SELECT pg_total_relation_size(CAST(:name AS regclass))")
            sizes[table.name] = int((await autocommit.execute(query, {"name": table.name})).scalar_one())
    return sizes


SQLITE_TABLE_BYTES = "SELECT tbl_name, sum(pgsize) FROM dbstat JOIN sqlite_master USING (name) GROUP BY 1"


def sqlite_bytes(path: Path) -> tuple[int, int, dict[str, int]]:
    """With no engine open: the file as written (after a WAL checkpoint), after VACUUM, and
    each table's bytes, indexes included (``dbstat``, when this SQLite has it)."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        written = path.stat().st_size
        try:
            tables = {str(name): int(size) for name, size in db.execute(SQLITE_TABLE_BYTES)}
        except sqlite3.OperationalError:  # built without dbstat
            tables = {}
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return written, path.stat().st_size, tables


def per_million(size: int, count: int) -> int:
    return round(size * MILLION / max(count, 1))


async def _filled(
    url: str, count: int, days: float, mix: dict[str, float]
) -> tuple[dict[str, int], dict[str, int]]:
    engine = create_engine(url, writer=True)
    try:
        stored = await fill(engine, count, days, mix)
        return stored, await table_rows(engine)
    finally:
        await engine.dispose()


async def measure_sqlite(workdir: Path, count: int, days: float, mix: dict[str, float]) -> Figures:
    path = workdir / "size.db"
    url = f"sqlite:///{path}"
    await migrate_store(url)
    _, empty, _ = sqlite_bytes(path)
    stored, rows = await _filled(url, count, days, mix)
    written, vacuumed, tables = sqlite_bytes(path)
    return Figures("sqlite", stored, vacuumed - empty, written - empty, tables, rows)


async def measure_postgres(
    count: int, days: float, mix: dict[str, float], admin_url: str = LOCAL_POSTGRES
) -> Figures:
    url = await create_database(admin_url)
    try:
        await migrate_store(url)
        engine = create_engine(url, writer=True)
        try:
            empty = await postgres_bytes(engine)
            stored = await fill(engine, count, days, mix)
            sizes = await postgres_bytes(engine)
            rows = await table_rows(engine)
        finally:
            await engine.dispose()
    finally:
        await drop_database(admin_url, url)
    tables = {name: sizes[name] - empty.get(name, 0) for name in sizes}
    total = sum(tables.values())
    return Figures("postgresql", stored, total, total, tables, rows)


async def measure(backend: str, workdir: Path, count: int, days: float, mix: dict[str, float]) -> Figures:
    """Fill a fresh store on ``backend`` (sqlite or postgresql); its figures."""
    if backend == "sqlite":
        return await measure_sqlite(workdir, count, days, mix)
    return await measure_postgres(
        count, days, mix, os.environ.get("REGBRIDGE_TEST_POSTGRES_URL") or LOCAL_POSTGRES
    )


def report(figures: list[Figures], count: int, days: float, mix: dict[str, float]) -> str:
    mix_text = ", ".join(f"{name} {share:.0%}" for name, share in mix.items())
    lines = [
        f"{count:,} events over {days:g} day(s) ({mix_text})",
        "",
        "| backend | events stored | bytes | as written | per million events |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for figure in figures:
        lines.append(
            f"| {figure.backend} | {figure.events:,} | {figure.bytes:,} | {figure.written:,} "
            f"| {per_million(figure.bytes, figure.events) / 2**20:,.0f} MiB |"
        )
    for figure in figures:
        lines += [
            "",
            f"{figure.backend}, table by table:",
            "",
            "| table | rows | bytes |",
            "| --- | ---: | ---: |",
        ]
        for name in sorted(figure.rows, key=lambda n: -figure.tables.get(n, 0)):
            lines.append(f"| {name} | {figure.rows[name]:,} | {figure.tables.get(name, 0):,} |")
    return "\n".join(lines)


def _mix(text_value: str) -> dict[str, float]:
    pairs = dict(part.split("=", 1) for part in text_value.split(","))
    shares = {name: float(share) for name, share in pairs.items()}
    unknown = set(shares) - set(HANDLERS)
    if unknown:
        raise SystemExit(f"unknown handlers in --mix: {', '.join(sorted(unknown))}")
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=MILLION)
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--mix", type=_mix, default=MIX)
    args = parser.parse_args()

    async def run() -> list[Figures]:
        with tempfile.TemporaryDirectory(prefix="store-size-") as workdir:
            return [
                await measure(backend, Path(workdir), args.events, args.days, args.mix)
                for backend in args.backends.split(",")
            ]

    print(report(asyncio.run(run()), args.events, args.days, args.mix))


if __name__ == "__main__":
    main()
