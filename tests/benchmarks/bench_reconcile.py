"""Reconcile passes over a large registry: a first pass into an empty store, then a pass that
finds nothing to do; memory while they run; registry requests per tag.

Not a test (pytest does not collect it). Run it on a quiet machine:

    .venv/bin/python -m tests.benchmarks.bench_reconcile [--repositories 1000] [--tags 10]
        [--backend sqlite|postgresql] [--concurrency 4] [--max-rps 0]

It starts a real ``docker-registry`` (no auth, no notifications) and fills it through its API
(one shared layer pushed once and mounted into every repository, a small distinct config
per tag), the embedded broker, and ``registry-consumer run push|pull|other`` as processes on a
fresh store. Then it runs two passes in this process, exactly as ``reconcile --once`` does
(defaults but ``--concurrency``, ``--max-rps``; the default rate limit of 50 requests per
second alone would make a 10,000-tag pass last 200 s, so the benchmark lifts it), and
prints a Markdown table: pass time, CPU time of the pass, the resident memory before and at
its peak, requests per tag, and how long the consumers took to hold every tag.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from common.kafka import KafkaSettings
from common.logs import LogSettings, configure_logging
from consumers.reconcile.command import one_pass
from consumers.reconcile.progress import Progress
from consumers.reconcile.settings import ReconcileSettings
from consumers.reconcile.summary import PassSummary
from consumers.registry_api import RegistrySettings
from devstack.broker import EmbeddedBroker
from devstack.ociimage import OCI_CONFIG, OCI_MANIFEST, Blob, canonical_json, layer_from_files
from tests.support.database import LOCAL_POSTGRES, count_rows, create_database, drop_database, migrate_store
from tests.support.pipeline import HANDLERS, pipeline_env, running_consumers
from tests.support.pusher import ApiPusher
from tests.support.registry import LocalRegistry

PAGE = 4096


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


@dataclass
class Run:
    summary: PassSummary
    seconds: float
    cpu: float
    rss_before: float
    rss_peak: float


@asynccontextmanager
async def rss_sampler(every: float = 0.1) -> AsyncIterator[list[float]]:
    samples: list[float] = [rss_mib()]

    async def sample() -> None:
        while True:
            samples.append(rss_mib())
            await asyncio.sleep(every)

    task = asyncio.create_task(sample())
    try:
        yield samples
    finally:
        task.cancel()
        samples.append(rss_mib())


def image(layer: Blob, repository: int, tag: int) -> tuple[Blob, Blob]:
    config = Blob(
        OCI_CONFIG, canonical_json({"architecture": "amd64", "os": "linux", "n": [repository, tag]})
    )
    manifest = Blob(
        OCI_MANIFEST,
        canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": config.descriptor(),
                "layers": [layer.descriptor()],
            }
        ),
    )
    return config, manifest


async def fill(url: str, repositories: int, tags: int) -> float:
    """The registry's content, pushed through its API; returns the seconds it took."""
    started = time.perf_counter()
    layer, _ = layer_from_files({"shared.txt": b"one layer shared by every image\n"})
    pusher = ApiPusher(url, None, concurrency=16)
    async with pusher.client() as client:
        await pusher.blob(client, "bench/base", layer)
        slots = asyncio.Semaphore(16)

        async def repository(n: int) -> None:
            async with slots:
                name = f"bench/repo{n:05d}"
                await pusher.mount(client, name, "bench/base", layer)
                for t in range(tags):
                    config, manifest = image(layer, n, t)
                    await pusher.blob(client, name, config)
                    await pusher.manifest(client, name, f"v{t}", manifest)

        await asyncio.gather(*(repository(n) for n in range(repositories)))
    return time.perf_counter() - started


async def timed_pass(settings: ReconcileSettings) -> Run:
    async with rss_sampler() as samples:
        wall, cpu = time.perf_counter(), time.process_time()
        summary = await one_pass(settings, Progress(bar=False, every=15.0), signals=False)
        seconds, used = time.perf_counter() - wall, time.process_time() - cpu
    return Run(summary, seconds, used, samples[0], max(samples))


async def until_stored(url: str, tags: int, within: float = 900.0) -> float:
    started = time.perf_counter()
    while await count_rows(url, "tags") < tags:
        if time.perf_counter() - started > within:
            raise AssertionError(f"the consumers did not store {tags} tags within {within}s")
        await asyncio.sleep(0.5)
    return time.perf_counter() - started


def row(name: str, run: Run, tags: int, extra: str) -> str:
    s = run.summary
    return (
        f"| {name} | {run.seconds:.1f} s | {run.cpu:.1f} s | {run.rss_before:.0f} → {run.rss_peak:.0f} MiB | "
        f"{s.requests:,} ({s.requests / tags:.2f}/tag) | {s.manifests_fetched:,} | "
        f"{sum(s.repairs.values()):,} | {extra} |"
    )


async def bench(args: argparse.Namespace, workdir: Path) -> list[str]:
    url, admin = f"sqlite:///{workdir / 'store.db'}", ""
    if args.backend == "postgresql":
        admin = os.environ.get("REGBRIDGE_TEST_POSTGRES_URL", LOCAL_POSTGRES)
        url = await create_database(admin)
    await migrate_store(url)
    prefix = f"bench{uuid.uuid4().hex[:8]}.registry.events"
    total = args.repositories * args.tags
    with ExitStack() as stack:
        broker = stack.enter_context(EmbeddedBroker(log_path=workdir / "tansu.log"))
        registry = stack.enter_context(LocalRegistry(workdir / "registry", auth=None))
        filled = await fill(registry.url, args.repositories, args.tags)
        print(f"filled {args.repositories} repositories x {args.tags} tags in {filled:.1f} s", flush=True)
        common = pipeline_env(broker.bootstrap_servers, prefix) | {"REGBRIDGE_LOG_LEVEL": "WARNING"}
        stack.enter_context(running_consumers(dict.fromkeys(HANDLERS, common), url, workdir / "logs"))
        settings = ReconcileSettings(
            registry=replace(
                RegistrySettings(url=registry.url), concurrency=args.concurrency, max_rps=args.max_rps
            ),
            kafka=KafkaSettings(broker.bootstrap_servers),
            topic_prefix=prefix,
            database_url=url,
            metrics_port=0,
            migrate_on_start=False,
            log=LogSettings(level="WARNING"),
        )
        first = await timed_pass(settings)
        stored = await until_stored(url, total)
        second = await timed_pass(settings)
    if admin:
        await drop_database(admin, url)
    header = "| pass | wall | CPU (this process) | RSS before → peak | registry requests | manifests fetched"
    header += " | repairs | |"
    return [
        header,
        "|---|---:|---:|---:|---:|---:|---:|---|",
        row("first (empty store)", first, total, f"store complete {stored:.1f} s after the pass"),
        row("no change", second, total, f"{second.summary.status}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repositories", type=int, default=1000)
    parser.add_argument("--tags", type=int, default=10)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-rps", type=float, default=0.0)
    args = parser.parse_args()
    configure_logging(LogSettings(level="WARNING", format="console"), stream=sys.stderr)
    print(f"load average before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(bench(args, Path(tmp)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"load average after: {os.getloadavg()}; max RSS {peak:.0f} MiB")
    limits = f"concurrency {args.concurrency}, max rps {args.max_rps or 'none'}"
    print(f"{args.repositories} repositories x {args.tags} tags, {args.backend}, {limits}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
