"""The dashboard's long ranges read the rollups: on a real store (SQLite and PostgreSQL)
whose minute rows the retention has pruned, a 90-day, a 30-day and a 7-day range still
count every pull, through a real dashboard server. The pulls are written by the real pull
handler at known times, 1 hour to 80 days before "now"."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from consumers.handlers.pull import PullHandler, PullPlan
from consumers.metrics import ConsumerMetrics
from consumers.runner.pruning import StatisticsPruner
from consumers.store.engine import create_engine
from consumers.store.retention import RetentionSettings
from tests.consumers.dashboard.server import dashboard_server
from tests.support.database import read_table

NOW = datetime(2026, 11, 29, 12, 30, 45)
# (days before NOW, repository, client, image pulls): at 09:07 UTC of that day, 1 h before NOW for 0
PULLS = [
    (0, "team/web", "alice", 2),
    (3, "team/web", "bob", 3),
    (10, "team/api", "alice", 5),
    (20, "team/api", "carol", 7),
    (45, "team/web", "carol", 11),
    (80, "team/db", "bob", 13),
]


def when(days: int) -> datetime:
    if days == 0:
        return NOW - timedelta(hours=1)
    return (NOW - timedelta(days=days)).replace(hour=9, minute=7, second=0)


def plans() -> list[PullPlan]:
    found = []
    for days, repository, actor, count in PULLS:
        at = when(days)
        for _ in range(count):
            plan = PullPlan(
                at.replace(second=0),
                at,
                repository,
                "latest",
                "manifest_gets",
                100,
                actor,
                "10.0.0.1",
                "docker/27",
            )
            found.extend([plan, dataclasses.replace(plan, counter="blob_gets", bytes=1000)])
    return found


def expected(within_days: int) -> dict[str, Any]:
    rows = [p for p in PULLS if p[0] < within_days]
    per_repo: dict[str, int] = {}
    per_actor: dict[str, int] = {}
    for _, repository, actor, count in rows:
        per_repo[repository] = per_repo.get(repository, 0) + count
        per_actor[actor] = per_actor.get(actor, 0) + count
    images = sum(count for *_, count in rows)
    return {"images": images, "bytes": images * 1100, "repos": per_repo, "actors": per_actor}


async def pruned_store(store_url: str) -> None:
    engine = create_engine(store_url, writer=True)
    try:
        async with engine.begin() as conn:
            await PullHandler().apply(plans(), conn)
        pruner = StatisticsPruner(
            "pull", engine, RetentionSettings(), ConsumerMetrics("pull"), clock=lambda: NOW
        )
        await pruner.prune_all()
    finally:
        await engine.dispose()


async def get(client: httpx.AsyncClient, path: str, **query: Any) -> Any:
    response = await client.get(path, params=query)
    assert response.status_code == 200, response.text
    return response.json()


async def check_range(client: httpx.AsyncClient, days: int) -> None:
    want, window = expected(days), {"range": f"{days}d"}
    summary = await get(client, "/api/v1/summary", **window)
    assert (summary["pulls"]["manifest_gets"], summary["pulls"]["bytes"]) == (want["images"], want["bytes"])
    assert summary["repositories"]["active"] == len(want["repos"])
    images = await get(client, "/api/v1/top/images", **window)
    assert {i["repository"]: i["manifest_gets"] for i in images["items"]} == want["repos"]
    clients = await get(client, "/api/v1/top/clients", **window)
    assert {c["actor"]: c["manifest_gets"] for c in clients["items"]} == want["actors"]
    series = await get(client, "/api/v1/pulls/series", **window)
    assert sum(p["manifest_gets"] for p in series["items"]) == want["images"]
    load = await get(client, "/api/v1/load", **window)
    assert sum(p["image_pulls"] for p in load["items"]) == want["images"]


async def test_long_ranges_count_every_pull_after_the_minute_rows_are_pruned(store_url: str) -> None:
    await pruned_store(store_url)
    minutes = await read_table(store_url, "pulls")
    assert sorted({r["repository"] for r in minutes}) == ["team/api", "team/web"]  # 0, 3, 10 days ago
    assert sum(r["manifest_gets"] for r in minutes) == expected(14)["images"]
    async with (
        dashboard_server(store_url, NOW.replace(tzinfo=UTC)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        for days in (90, 30, 7, 1):
            await check_range(client, days)
        series = await get(client, "/api/v1/pulls/series", range="90d")
        assert series["step"] == "day"
        old = {"since": "2026-11-01T10:00:00Z", "until": "2026-11-01T12:00:00Z"}
        hourly = await get(client, "/api/v1/pulls/series", **old)
        assert hourly["step"] == "hour"  # its minute rows are gone: not the default minute step
        refused = await client.get("/api/v1/pulls/series", params={**old, "step": "minute"})
        assert refused.status_code == 400 and "REGBRIDGE_RETENTION_" in refused.json()["detail"]
