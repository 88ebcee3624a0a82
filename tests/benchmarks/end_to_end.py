"""End to end: from the registry's event timestamp to the event's row in the store, at a steady
rate through the real registry, bridge, broker and consumers, on SQLite and PostgreSQL.

Not a test. Run it with

    .venv/bin/python -m tests.benchmarks.end_to_end [--rate 500] [--seconds 60]
        [--databases sqlite,postgresql]

Per database: a fresh store (a SQLite file; a fresh database on the local PostgreSQL,
``postgresql://postgres@127.0.0.1:5432/test`` unless ``REGBRIDGE_TEST_POSTGRES_URL`` says
otherwise), ``registry-bridge serve`` with a spool (as compose and ``make run`` run it), the three
``registry-consumer run`` processes with their default settings, and a Debian ``docker-registry``
(2.8.2) without auth whose one endpoint is the bridge. The load is open-loop: HEADs of one blob at
``--rate`` per second on keep-alive connections, each one pull event. Every 20 ms this script
reads the pull consumer's new rows in ``processed_events`` (written in the same transaction as
the pull statistics), and once everything is stored it reads the records back from Kafka for
each event's ``timestamp`` (the registry's clock, the same machine's). Latency = when the row was
first seen - the event's timestamp (20 ms of it can be the polling); ``claimed`` uses the row's
``processed_at`` (the consumer's clock at the start of its transaction) instead.

One machine carries everything here (registry, bridge, broker, consumers, database, load): the
figures are wall-clock and only meaningful on a quiet machine. The registry's maximum Pending
and the pacer's lateness are printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from common.contract import TopicRouter
from consumers.store.engine import create_engine
from devstack.broker import EmbeddedBroker
from devstack.registry import ENDPOINT_NAME, Notifications
from tests.benchmarks.connection_cost import cpu_seconds, patched_environ
from tests.support.database import LOCAL_POSTGRES, create_database, drop_database, migrate_store
from tests.support.kafka import consume
from tests.support.pipeline import TOKEN, bridge_process, pipeline_env, running_consumers, start_on_free_port
from tests.support.registry import LocalRegistry, notification_counters

REPOSITORY = "bench/e2e"
# the load generator's registry serves 500 HEADs/s on the same two cores: no line per request in its
# log, and blob descriptors cached in memory (distribution's documented overrides of config.yml)
REGISTRY_TUNING = {"REGISTRY_LOG_LEVEL": "warn", "REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR": "inmemory"}
POLL_EVERY = 0.02


@dataclass
class Seen:
    """Pull events the store has, by id: (first seen, wall clock; processed_at)."""

    rows: dict[str, tuple[float, datetime]] = field(default_factory=dict)
    before: set[str] = field(default_factory=set)  # the warm-up's, not measured
    lock: threading.Lock = field(default_factory=threading.Lock)

    def measured(self) -> dict[str, tuple[float, datetime]]:
        with self.lock:
            return {k: v for k, v in self.rows.items() if k not in self.before}


async def poll_store(database_url: str, seen: Seen, stop: threading.Event) -> None:
    engine = create_engine(database_url)
    since = datetime(1970, 1, 1)
    query = text(
        "SELECT event_id, processed_at FROM processed_events"
        " WHERE handler = 'pull' AND processed_at > :since"  # a batch's rows share one processed_at
    )
    try:
        while not stop.is_set():
            async with engine.connect() as connection:
                rows = (await connection.execute(query, {"since": since})).all()
            now = time.time()
            with seen.lock:
                for event_id, processed_at in rows:
                    if event_id not in seen.rows:
                        seen.rows[event_id] = (now, _naive(processed_at))
                        since = max(since, _naive(processed_at))
            await asyncio.sleep(POLL_EVERY)
    finally:
        await engine.dispose()


def _naive(value: datetime | str) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=None)


def push_blob(registry: LocalRegistry) -> str:
    import hashlib

    blob = b"end-to-end-" + os.urandom(8)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    with httpx.Client(base_url=registry.url, timeout=10) as client:
        started = client.post(f"/v2/{REPOSITORY}/blobs/uploads/")
        started.raise_for_status()
        location = httpx.URL(started.headers["Location"]).copy_add_param("digest", digest)
        client.put(location, content=blob).raise_for_status()
    return digest


@dataclass
class Load:
    sent: int = 0
    late_s: float = 0.0  # the most a request went out after its due time
    errors: list[str] = field(default_factory=list)


def pace(registry: LocalRegistry, digest: str, rate: float, seconds: float, lanes: int) -> Load:
    """HEADs at ``rate``/s for ``seconds``, open loop, over ``lanes`` keep-alive connections."""
    load, lock = Load(), threading.Lock()
    started = time.monotonic() + 0.1

    def lane(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", registry.port, timeout=10)
        interval = lanes / rate
        due = started + index / rate
        try:
            while due < started + seconds:
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                late = max(0.0, -wait)
                connection.request("HEAD", f"/v2/{REPOSITORY}/blobs/{digest}")
                answer = connection.getresponse()
                answer.read()
                with lock:
                    load.sent += 1
                    load.late_s = max(load.late_s, late)
                    if answer.status != 200:
                        load.errors.append(f"HEAD -> {answer.status}")
                due += interval
        finally:
            connection.close()

    threads = [threading.Thread(target=lane, args=(i,), daemon=True) for i in range(lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return load


def hey_load(registry: LocalRegistry, digest: str, rate: float, seconds: float, lanes: int) -> Load:
    """The same load from ``hey`` (Debian package ``hey``): a Go load generator costs the shared
    cores far less per request than Python's http.client (0.47 of a core at 500/s)."""
    url = f"{registry.url}/v2/{REPOSITORY}/blobs/{digest}"
    command = ["hey", "-z", f"{seconds}s", "-c", str(lanes), "-q", str(rate / lanes), "-m", "HEAD"]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60, check=False)
    statuses = {int(code): int(n) for code, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", done.stdout)}
    load = Load(sent=sum(statuses.values()))
    load.errors = [f"HEAD -> {code}: {n}" for code, n in statuses.items() if code != 200]
    if done.returncode != 0:
        load.errors.append(f"hey exited {done.returncode}: {done.stderr.strip()[:200]}")
    return load


def max_pending_while(registry: LocalRegistry, running: threading.Event) -> list[int]:
    """Samples of the endpoint's Pending every 50 ms while ``running`` is set."""
    samples: list[int] = []
    with httpx.Client(base_url=registry.debug_url, timeout=5) as client:
        while running.is_set():
            counters = notification_counters(client.get("/debug/vars").json())
            samples.append(counters[ENDPOINT_NAME].pending)
            time.sleep(0.05)
    return samples


@contextmanager
def store(kind: str, work: Path) -> Iterator[str]:
    if kind == "sqlite":
        url = f"sqlite:///{work / 'store.db'}"
        asyncio.run(migrate_store(url))
        yield url
        return
    admin = os.environ.get("REGBRIDGE_TEST_POSTGRES_URL", "").strip() or LOCAL_POSTGRES
    url = asyncio.run(create_database(admin))
    try:
        asyncio.run(migrate_store(url))
        yield url
    finally:
        asyncio.run(drop_database(admin, url))


@dataclass
class Pipeline:
    registry: LocalRegistry
    pids: dict[str, int]  # process name -> pid, for their CPU time


@contextmanager
def pipeline(bootstrap: str, prefix: str, database_url: str, work: Path) -> Iterator[Pipeline]:
    """Bridge (with a spool), the three consumers, and a registry without auth notifying the bridge."""
    logs = work / "logs"
    common = pipeline_env(bootstrap, prefix)
    with ExitStack() as stack:
        bridge_env = {**common, "REGBRIDGE_SPOOL_DIR": str(work / "spool")}
        bridge, port = start_on_free_port(partial(bridge_process, bridge_env, logs))
        stack.callback(bridge.stop)
        consumers = stack.enter_context(
            running_consumers(dict.fromkeys(("push", "pull", "other"), common), database_url, logs)
        )
        notifications = Notifications(f"http://127.0.0.1:{port}/events", TOKEN, timeout="2s", threshold=3)
        registry = LocalRegistry(work / "registry", notifications, auth=None)
        with patched_environ(REGISTRY_TUNING):
            stack.enter_context(registry)
        processes = {"bridge": bridge, **{f"consumer-{h}": c for h, c in consumers.items()}}
        pids = {name: p.pid for name, p in processes.items() if p.pid is not None}
        yield Pipeline(registry, {"registry": registry.pid or 0, **pids})


def wait_stored(seen: Seen, count: int, within: float) -> int:
    """Until ``count`` measured events are in the store (or ``within`` seconds); how many are."""
    deadline = time.monotonic() + within
    while len(seen.measured()) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return len(seen.measured())


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "p50_ms": cut[49] * 1000,
        "p90_ms": cut[89] * 1000,
        "p99_ms": cut[98] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def timestamps(bootstrap: str, prefix: str, expect: int) -> dict[str, datetime]:
    """Each pull event's registry timestamp, read back from Kafka."""
    topic = TopicRouter(prefix=prefix).handler_topic("pull")
    records = asyncio.run(consume(bootstrap, [topic], expect=expect, within=120, settle=1.0))
    stamps = {}
    for record in records:
        event = json.loads(record.value)
        stamps[event["id"]] = datetime.fromisoformat(event["timestamp"][:26].rstrip("Z")).replace(tzinfo=None)
    return stamps


def measure(kind: str, broker: EmbeddedBroker, rate: float, seconds: float, work: Path) -> dict[str, Any]:
    prefix = f"e2e{os.getpid()}{kind}"
    with (
        store(kind, work) as database_url,
        pipeline(broker.bootstrap_servers, prefix, database_url, work) as running,
    ):
        seen, stop = Seen(), threading.Event()
        poller = threading.Thread(
            target=lambda: asyncio.run(poll_store(database_url, seen, stop)), daemon=True
        )
        poller.start()
        try:
            digest = warm_up(running.registry, seen, kind, work)
            base = running.registry.endpoint_counters()
            pids = {**running.pids, "broker": broker.pid or 0}
            load, pending, cpu = under_load(running.registry, digest, rate, seconds, pids)
            stored = wait_stored(seen, load.sent, 120)
            counters = running.registry.endpoint_counters()
        finally:
            stop.set()
            poller.join(10)
        stamps = timestamps(broker.bootstrap_servers, prefix, base.successes + load.sent)
    row = result_row(
        kind, rate, seconds, load, pending, stored, counters.failures - base.failures, seen, stamps
    )
    row["cpu_share_during_load"] = cpu
    return row


def warm_up(registry: LocalRegistry, seen: Seen, kind: str, work: Path) -> str:
    """A blob to HEAD, and a few events through: the consumers have joined their groups."""
    digest = push_blob(registry)
    warm = pace(registry, digest, 20, 2, 1)
    if wait_stored(seen, warm.sent, 90) < warm.sent:
        raise SystemExit(f"{kind}: the warm-up events did not reach the store; logs in {work}")
    with seen.lock:
        seen.before = set(seen.rows)
    return digest


def under_load(
    registry: LocalRegistry, digest: str, rate: float, seconds: float, pids: dict[str, int]
) -> tuple[Load, list[int], dict[str, float]]:
    """The load, the registry's Pending samples, and each process's CPU (share of one core)."""
    running, pending = threading.Event(), []
    running.set()
    sampler = threading.Thread(target=lambda: pending.extend(max_pending_while(registry, running)))
    before, started = {name: sum(cpu_seconds(pid)) for name, pid in pids.items()}, time.monotonic()
    own = time.process_time()  # this script: the load generator and the store poller
    sampler.start()
    generate = hey_load if shutil.which("hey") else pace
    load = generate(registry, digest, rate, seconds, 4)
    running.clear()
    sampler.join()
    elapsed = time.monotonic() - started
    cpu = {name: round((sum(cpu_seconds(pid)) - before[name]) / elapsed, 2) for name, pid in pids.items()}
    cpu["load and poller"] = round((time.process_time() - own) / elapsed, 2)
    return load, pending, cpu


def result_row(
    kind: str,
    rate: float,
    seconds: float,
    load: Load,
    pending: list[int],
    stored: int,
    failures: int,
    seen: Seen,
    stamps: dict[str, datetime],
) -> dict[str, Any]:
    epoch = datetime(1970, 1, 1)
    visible, claimed = [], []
    for event_id, (when, processed_at) in seen.measured().items():
        stamp = stamps.get(event_id)
        if stamp is not None:
            visible.append(when - (stamp - epoch).total_seconds())
            claimed.append((processed_at - stamp).total_seconds())
    return {
        "database": kind,
        "rate_per_s": rate,
        "seconds": seconds,
        "sent": load.sent,
        "stored": stored,
        "measured": len(visible),
        "load_generator": "hey" if shutil.which("hey") else "python",
        "pacer_late_max_ms": round(load.late_s * 1000, 1),
        "load_errors": len(load.errors),
        "registry_failures": failures,
        "registry_max_pending": max(pending, default=0),
        "visible": {k: round(v, 1) for k, v in percentiles(visible).items()} if visible else None,
        "claimed": {k: round(v, 1) for k, v in percentiles(claimed).items()} if claimed else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    with ExitStack() as stack:
        work = Path(stack.enter_context(_workdir()))
        broker = stack.enter_context(EmbeddedBroker(log_path=work / "tansu.log"))
        print(json.dumps({"load_average": os.getloadavg(), "work": str(work)}), flush=True)
        for kind in args.databases.split(","):
            row = measure(kind, broker, args.rate, args.seconds, work / kind)
            print(json.dumps(row), flush=True)
        print(json.dumps({"load_average": os.getloadavg()}), flush=True)


@contextmanager
def _workdir() -> Iterator[str]:
    import tempfile

    yield tempfile.mkdtemp(prefix="end-to-end-")  # kept: the processes' logs


if __name__ == "__main__":
    main()
