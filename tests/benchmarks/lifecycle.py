"""The dashboard and the cleanup over a year of a busy registry (issue 12's benchmark).

Not a test (pytest does not collect it). Run it on a quiet machine:

    .venv/bin/python -m tests.benchmarks.lifecycle --backend sqlite|postgresql [--scale 1.0]
        [--repeat 20] [--seed 12] [--keep PATH]

It generates the store of ``tests.benchmarks.lifecycle_store`` (at scale 1.0: 5,000
repositories, 50,000 tags, 20 million pull events as rollups, 14 days of minute rows) into a
fresh SQLite file or PostgreSQL database (executemany / COPY; PostgreSQL then gets ``VACUUM
ANALYZE``, as autovacuum would have done in a year; SQLite nothing, as operators run it), then
measures, with a real dashboard server on 127.0.0.1 whose clock is pinned to the store's "now",
called with a viewer token as an API client would be:

* every operation of the dashboard's OpenAPI document (so new endpoints are included), p50
  and p95 over ``--repeat`` calls after two warm-up calls; those with a ``range`` parameter
  at 1h, 24h, 7d, 30d and 365d; a POST that takes YAML (the cleanup preview) with the
  benchmark's policy; ``…/apply`` is left out (it deletes);
* ``registry-consumer cleanup plan --format json`` over the whole registry, as a process;
* the page in headless Chromium: time from navigation to its ready marker (``#status``
  saying "updated"), at three ranges and for one repository.

Goals (issue 12): every endpoint p95 ≤ 150 ms on PostgreSQL, ≤ 300 ms on SQLite; the stale
view and the full plan ≤ 10 s; the page ≤ 2 s. It prints Markdown tables; it writes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx

from consumers.dashboard.access import AccessSettings
from consumers.dashboard.settings import DashboardSettings
from consumers.lifecycle.facts import stale_manifests
from consumers.lifecycle.policy import parse_policy
from consumers.lifecycle.preview import preview
from consumers.store.engine import create_engine
from tests.benchmarks.lifecycle_stats import PullYear, audit, housekeeping, pushes, snapshots
from tests.benchmarks.lifecycle_store import NOW, Chunk, Registry, Shape, build, inventory
from tests.benchmarks.lifecycle_writers import StoreWriter, writer_for
from tests.consumers.dashboard.server import running_dashboard
from tests.support.database import LOCAL_POSTGRES, create_database, drop_database, migrate_store

TOKEN = "lifecycle-benchmark-viewer-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}  # a viewer, as an API client is (no CSRF token needed)
RANGES = ("1h", "24h", "7d", "30d", "365d")
PAGE_VIEWS = ("#range=24h", "#range=7d", "#range=30d")
GOAL_MS = {"postgresql": 150.0, "sqlite": 300.0}
POLICY = """rules:
  - repositories: "team0*/*"
    keep_last_pushed: 3
    keep_pulled_within_days: 30
    keep_tags: "^latest$"
    delete_untagged_after_days: 7
  - repositories: "*"
    keep_last_pushed: 5
    keep_pulled_within_days: 90
    delete_untagged_after_days: 30
"""


def chunks(shape: Shape, seed: int) -> tuple[Registry, Iterator[Chunk]]:
    rng = random.Random(seed)
    registry = build(shape, rng)
    year = PullYear(registry, shape, rng)
    parts = (inventory(registry), pushes(registry), year.days(), audit(registry, shape, rng))
    return registry, itertools.chain(*parts, snapshots(registry), housekeeping(shape))


async def generate(writer: StoreWriter, shape: Shape, seed: int) -> tuple[Registry, Counter[str], float]:
    started = time.perf_counter()
    registry, parts = chunks(shape, seed)
    rows: Counter[str] = Counter()
    for table, batch in parts:
        if batch:
            await writer.write(table, batch)
            rows[table] += len(batch)
    await writer.finish()
    return registry, rows, time.perf_counter() - started


def operations(document: dict[str, Any], repository: str) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(method, path, query) for every operation worth timing."""
    for path, item in sorted(document["paths"].items()):
        concrete = path.replace("{name}", repository).replace("{id}", "pass-000")
        for method, operation in item.items():
            if method == "get":
                names = {
                    p.get("name", p.get("$ref", "").rsplit("/", 1)[-1])
                    for p in operation.get("parameters", [])
                }
                if "range" in names:
                    for span in RANGES:
                        yield "GET", concrete, {"range": span}
                else:
                    yield "GET", concrete, {}
            elif method == "post" and not path.endswith("/apply") and _takes_yaml(operation):
                yield "POST", concrete, {}


def _takes_yaml(operation: dict[str, Any]) -> bool:
    return "application/yaml" in operation.get("requestBody", {}).get("content", {})


async def timed(
    client: httpx.AsyncClient, method: str, path: str, query: dict[str, str], repeat: int
) -> tuple[int, list[float]]:
    headers = {"Content-Type": "application/yaml", "Origin": str(client.base_url).rstrip("/")}
    body = POLICY.encode() if method == "POST" else None
    status, times = 0, []
    for n in range(repeat + 2):
        started = time.perf_counter()
        answer = await client.request(
            method, path, params=query, content=body, headers=headers if body else None
        )
        elapsed = (time.perf_counter() - started) * 1000
        status = answer.status_code
        if status != 200 and n == 0:
            print(f"{method} {path}: {status} {answer.text[:200]}", file=sys.stderr, flush=True)
        if n >= 2:
            times.append(elapsed)
    return status, times


def p(times: list[float], q: int) -> float:
    if len(times) == 1:
        return times[0]
    return statistics.quantiles(times, n=100, method="inclusive")[q - 1]


async def endpoints(url: str, repository: str, repeat: int, goal: float) -> list[str]:
    lines = ["| endpoint | query | status | p50 ms | p95 ms | goal |", "|---|---|---:|---:|---:|---|"]
    async with httpx.AsyncClient(base_url=url, timeout=120, headers=BEARER) as client:
        document = (await client.get("/openapi.json")).json()
        for method, path, query in operations(document, repository):
            status, times = await timed(client, method, path, query, repeat)
            mark = (
                "ok"
                if p(times, 95) <= goal and status == 200
                else "**over**"
                if status == 200
                else "**error**"
            )
            shown = path.replace(repository, "{name}")
            args = "&".join(f"{k}={v}" for k, v in query.items())
            lines.append(
                f"| {method} {shown} | {args} | {status} | {p(times, 50):.1f} | {p(times, 95):.1f} | {mark} |"
            )
            print(lines[-1], flush=True)
    return lines


def cleanup_plan(url: str, workdir: Path) -> str:
    policy = workdir / "policy.yaml"
    policy.write_text(POLICY)
    env = {**os.environ, "REGBRIDGE_DATABASE_URL": url, "REGBRIDGE_LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "consumers", "cleanup", "plan", "--policy", str(policy), "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return f"| cleanup plan (process) | exit {done.returncode}: {done.stderr.strip()[-300:]} | | |"
    plan = json.loads(done.stdout)
    freed = plan["bytes_freed"] / 2**30
    what = f"{len(plan['delete']):,} to delete, {len(plan['keep']):,} kept, {freed:.1f} GiB freed"
    mark = "ok" if seconds <= 10 else "**over**"
    return f"| cleanup plan, whole registry (process) | {seconds:.2f} s | {mark} | {what} |"


async def in_process(url: str) -> list[str]:
    """The stale view's query and the plan's, timed without HTTP or a process start."""
    engine = create_engine(url)
    now, lines = NOW.replace(tzinfo=UTC), []
    try:
        async with engine.connect() as conn:
            for name, work in (
                ("stale_manifests(days=90, limit=50)", stale_manifests(conn, days=90, now=now, limit=50)),
                ("preview(policy), whole registry", preview(conn, parse_policy(POLICY, "bench"), now)),
            ):
                started = time.perf_counter()
                await work
                seconds = time.perf_counter() - started
                lines.append(
                    f"| {name} (in process) | {seconds:.2f} s | {'ok' if seconds <= 10 else '**over**'} | |"
                )
    finally:
        await engine.dispose()
    return lines


async def page(url: str, repository: str) -> list[str]:
    from playwright.async_api import expect

    from tests.consumers.dashboard.browser import chromium

    lines = []
    async with chromium() as browser:
        for view in (*PAGE_VIEWS, f"#range=7d&repository={repository}"):
            times = []
            for _ in range(3):
                tab = await browser.new_page(
                    viewport={"width": 1400, "height": 1000}, extra_http_headers=BEARER
                )
                started = time.perf_counter()
                await tab.goto(url + view)
                await expect(tab.locator("#status")).to_have_text(re.compile(r"^updated"), timeout=120_000)
                times.append(time.perf_counter() - started)
                await tab.close()
            best, worst = min(times), max(times)
            mark = "ok" if worst <= 2 else "**over**"
            shown = view.replace(repository, "{name}")
            lines.append(f"| page {shown} | {best:.2f} to {worst:.2f} s | {mark} | 3 loads |")
    return lines


async def bench(args: argparse.Namespace, workdir: Path) -> list[str]:
    url, admin = f"sqlite:///{workdir / 'store.db'}", ""
    if args.keep:
        url = f"sqlite:///{args.keep}"
    if args.backend == "postgresql":
        admin = os.environ.get("REGBRIDGE_TEST_POSTGRES_URL", LOCAL_POSTGRES)
        url = await create_database(admin)
    try:
        await migrate_store(url)
        shape = Shape.at(args.scale)
        registry, rows, seconds = await generate(writer_for(url), shape, args.seed)
        print(
            f"generated in {seconds:.1f} s: " + ", ".join(f"{t} {n:,}" for t, n in sorted(rows.items())),
            flush=True,
        )
        pulled = await writer_for(url).pull_events()
        print(f"pull events in pulls_daily: {pulled:,}; load average {os.getloadavg()}", flush=True)
        repository = registry.repositories[0]
        access = AccessSettings(viewer_tokens=(TOKEN,))
        settings = DashboardSettings(database_url=url, refresh_seconds=0, live_seconds=0, access=access)
        async with running_dashboard(settings, NOW.replace(tzinfo=UTC)) as base:
            lines = await endpoints(base, repository, args.repeat, GOAL_MS[args.backend])
            lines += ["", "| what | time | goal | |", "|---|---:|---|---|", cleanup_plan(url, workdir)]
            lines += await in_process(url)
            lines += await page(base, repository)
        return lines
    finally:
        if admin:
            await drop_database(admin, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--keep", type=Path, default=None, help="SQLite: write the store here and keep it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("consumers.dashboard").setLevel(logging.WARNING)
    print(f"load average before: {os.getloadavg()}; scale {args.scale}, {args.backend}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        lines = asyncio.run(bench(args, Path(tmp)))
    print(f"load average after: {os.getloadavg()}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
