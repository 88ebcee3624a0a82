"""Consumer throughput: events per second one process persists, per handler, on SQLite
and PostgreSQL, next to the raw aiokafka consume rate of the same records (the ceiling).

Not a test (pytest does not collect it). Run it on a quiet machine:

    .venv/bin/python -m tests.benchmarks.bench_consumers [--events 100000] [--handlers pull,push,other]

It starts the embedded broker (or uses ``REGBRIDGE_TEST_KAFKA_BOOTSTRAP``), fills one
topic per handler with registry-shaped events, then for each database runs the real
``ConsumerProcess`` (default batch size) on a fresh store with a fresh group and times it
from partition assignment until every event is persisted. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from common.contract import TopicRouter
from common.kafka import KafkaSettings
from common.logs import LogSettings
from consumers.process import ConsumerProcess, tune_gc
from consumers.settings import ConsumerSettings
from devstack.broker import EmbeddedBroker
from tests.support.consumers import wait_for
from tests.support.database import LOCAL_POSTGRES, create_database, drop_database, migrate_store
from tests.support.events import BLOB, OCI_MANIFEST, bodies, event
from tests.support.kafka import records_for, send_records

START = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
AGENTS = ["docker/27.3.1", "containerd/1.7.22", "skopeo/1.9.3", "curl/7.88.1", "kaniko/1.23"]


def digest_of(*parts: object) -> str:
    return "sha256:" + hashlib.sha256(repr(parts).encode()).hexdigest()


class PullSessions:
    """Image pulls as clients make them: a HEAD of the manifest by tag, a GET of it by
    digest, then a GET of each blob. 100 repositories with skewed popularity, 3 images
    each of 6 blobs, 300 clients, about 1,000 events per second of registry time."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.repositories = [f"team{n % 10}/app{n}" for n in range(100)]
        self.weights = [1 / (rank + 1) for rank in range(100)]
        self.clients = [
            (f"user{n}" if n % 7 else None, f"10.0.{n % 4}.{n}", AGENTS[n % len(AGENTS)]) for n in range(300)
        ]
        self.pending: list[tuple[str, str | None, str, str, str]] = []
        self.client = self.clients[0]

    def next(self, i: int) -> dict[str, Any]:
        if not self.pending:
            self._session()
        repo, tag, digest, kind, method = self.pending.pop()
        actor, host, agent = self.client
        return event(
            "pull",
            repo,
            digest=digest,
            tag=tag,
            media_type=kind,
            size=self.rng.randrange(500, 50_000_000) if kind == BLOB else 1500,
            method=method,
            actor=actor,
            addr=f"{host}:{self.rng.randrange(30000, 60000)}",
            useragent=agent,
            timestamp=START + timedelta(milliseconds=i),
        )

    def _session(self) -> None:
        repo = self.rng.choices(self.repositories, self.weights)[0]
        image = self.rng.randrange(3)
        self.client = self.rng.choice(self.clients)
        manifest = digest_of(repo, image)
        steps = [
            (repo, f"v{image}", manifest, OCI_MANIFEST, "HEAD"),
            (repo, None, manifest, OCI_MANIFEST, "GET"),
        ]
        steps += [(repo, None, digest_of(repo, image, blob), BLOB, "GET") for blob in range(6)]
        self.pending = steps[::-1]


def push_event(rng: random.Random, i: int) -> dict[str, Any]:
    repo = f"team{rng.randrange(20)}/app{rng.randrange(50)}"
    manifest = rng.random() < 0.25
    return event(
        "push",
        repo,
        digest=f"sha256:{rng.randrange(10**12):064x}",
        tag=f"build-{i}" if manifest else None,
        media_type=OCI_MANIFEST if manifest else BLOB,
        size=rng.randrange(500, 50_000_000),
        method="PUT",
        actor=f"ci{rng.randrange(5)}",
        timestamp=START + timedelta(milliseconds=i * 3),
    )


def other_event(rng: random.Random, i: int) -> dict[str, Any]:
    repo = f"team{rng.randrange(20)}/app{rng.randrange(50)}"
    kind = rng.random()
    if kind < 0.5:
        raw = event("mount", repo, digest=f"sha256:{rng.randrange(10**9):064x}", method="POST")
        raw["target"]["fromRepository"] = "base/images"
    elif kind < 0.8:
        raw = event("delete", repo, tag=f"build-{rng.randrange(10**6)}", method="DELETE")
    else:
        raw = event("delete", repo, digest=f"sha256:{rng.randrange(10**9):064x}", method="DELETE")
    raw["timestamp"] = (START + timedelta(milliseconds=i * 3)).isoformat().replace("+00:00", "Z")
    return raw


def makers(rng: random.Random) -> dict[str, Callable[[int], dict[str, Any]]]:
    return {
        "pull": PullSessions(rng).next,
        "push": lambda i: push_event(rng, i),
        "other": lambda i: other_event(rng, i),
    }


async def fill(bootstrap: str, prefix: str, handler: str, count: int) -> None:
    make = makers(random.Random(handler))[handler]
    events = [make(i) for i in range(count)]
    records = records_for(bodies(events), TopicRouter(prefix=prefix))
    for start in range(0, len(records), 20_000):
        await send_records(bootstrap, records[start : start + 20_000])


async def ceiling(bootstrap: str, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        seen, started = 0, 0.0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            if batch and not started:
                started = time.perf_counter()
            seen += sum(len(records) for records in batch.values())
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def persist_rate(settings: ConsumerSettings, count: int) -> tuple[float, float]:
    """(events per wall-clock second, events per CPU second of this process) from the
    partition assignment until ``count`` events are persisted."""
    process = ConsumerProcess(settings)
    task = asyncio.create_task(process.run(signals=False))
    labels = {"handler": settings.handler}

    async def assigned() -> bool:
        return bool(process.consumer.assignment()) or task.done()

    async def persisted() -> float:
        if task.done():
            task.result()  # surfaces a crash
        return process.metrics.registry.get_sample_value("regbridge_consumer_processed_total", labels) or 0

    try:
        await wait_for(assigned, bool, within=120, every=0.01)
        wall, cpu = time.perf_counter(), time.process_time()
        done = await wait_for(persisted, lambda n: n >= count, within=600, every=0.01)
        assert done == count, f"persisted {done} of {count}"
        return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)
    finally:
        process.request_stop()
        await task


async def store_for(backend: str, workdir: Path) -> tuple[str, Callable[[], Any]]:
    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'{uuid.uuid4().hex}.db'}"
        await migrate_store(url)
        return url, lambda: asyncio.sleep(0)
    admin = os.environ.get("REGBRIDGE_TEST_POSTGRES_URL", LOCAL_POSTGRES)
    url = await create_database(admin)
    await migrate_store(url)
    return url, lambda: drop_database(admin, url)


async def bench(bootstrap: str, handlers: list[str], count: int, backends: list[str]) -> list[str]:
    prefix = f"bench{uuid.uuid4().hex[:8]}.registry.events"
    rows = ["| handler | events | raw aiokafka consume (ceiling) | " + " | ".join(backends) + " |"]
    rows.append("|---|---:|---:|" + "---:|" * len(backends))
    with tempfile.TemporaryDirectory() as tmp:
        for handler in handlers:
            await fill(bootstrap, prefix, handler, count)
            topic = TopicRouter(prefix=prefix).handler_topic(handler)
            cells = [f"{await ceiling(bootstrap, topic, count):,.0f}/s"]
            for backend in backends:
                url, cleanup = await store_for(backend, Path(tmp))
                settings = ConsumerSettings(
                    handler=handler,
                    kafka=KafkaSettings(bootstrap),
                    topic_prefix=prefix,
                    group_id=f"{prefix}.{handler}.{backend}",
                    database_url=url,
                    session_timeout_ms=2000,
                    migrate_on_start=False,
                    log=LogSettings(level="WARNING"),
                )
                try:
                    wall, cpu = await persist_rate(settings, count)
                    cells.append(f"{wall:,.0f}/s ({cpu:,.0f}/CPU-s)")
                finally:
                    await cleanup()
            rows.append(f"| {handler} | {count:,} | " + " | ".join(cells) + " |")
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--handlers", default="pull,push,other")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    handlers, backends = args.handlers.split(","), args.backends.split(",")
    print(f"load average before: {os.getloadavg()}", flush=True)
    tune_gc()  # as `registry-consumer run` does
    external = os.environ.get("REGBRIDGE_TEST_KAFKA_BOOTSTRAP", "").strip()
    import logging

    logging.basicConfig(level=logging.WARNING)
    if external:
        rows = asyncio.run(bench(external, handlers, args.events, backends))
    else:
        with EmbeddedBroker() as broker:
            rows = asyncio.run(bench(broker.bootstrap_servers, handlers, args.events, backends))
    print(f"load average after: {os.getloadavg()}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
