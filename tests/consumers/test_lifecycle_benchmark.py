"""The lifecycle benchmark's store (``tests/benchmarks/lifecycle.py``) kept honest: a tiny
one written to real SQLite and PostgreSQL holds what its docstring promises (the pull
events summed the same in every rollup, the per-repository and registry-wide ones
included, minute rows only for the last 14 days, tags and their manifests, a reproducible
draw), and the driver times every API operation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.routing import Route

from consumers.dashboard import api
from consumers.dashboard.openapi import openapi_document
from tests.benchmarks.lifecycle import chunks, generate, operations
from tests.benchmarks.lifecycle_store import MINUTE_DAYS, NOW, Shape
from tests.benchmarks.lifecycle_writers import writer_for
from tests.support.database import read_table

SHAPE = Shape.at(0.001)  # 10 repositories, 50 tags, 20,000 pull events


def counted(rows: list[dict[str, Any]]) -> int:
    return sum(
        int(r[c]) for r in rows for c in ("manifest_gets", "manifest_heads", "blob_gets", "blob_heads")
    )


def summed(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], list[Any]]:
    """``keys`` → the counters summed over the other keys, and the last pull."""
    found: dict[tuple[Any, ...], list[Any]] = {}
    for r in rows:
        cell = found.setdefault(tuple(r[k] for k in keys), [0, 0, 0, 0, 0, r["last_pulled_at"]])
        for i, c in enumerate(("manifest_gets", "manifest_heads", "blob_gets", "blob_heads", "bytes")):
            cell[i] += int(r[c])
        cell[5] = max(cell[5], r["last_pulled_at"])
    return found


async def test_the_generated_store_holds_a_consistent_year(store_url: str) -> None:
    registry, rows, _ = await generate(writer_for(store_url), SHAPE, 7)
    daily, hourly = await read_table(store_url, "pulls_daily"), await read_table(store_url, "pulls_hourly")
    clients = await read_table(store_url, "pull_clients_daily")
    assert SHAPE.pull_events <= counted(daily) == counted(hourly) == counted(clients) < SHAPE.pull_events + 10
    for fine, coarse, keys in (
        (hourly, "pulls_repository_hourly", ("hour", "repository")),
        (daily, "pulls_repository_daily", ("day", "repository")),
        (hourly, "pulls_total_hourly", ("hour",)),
        (daily, "pulls_total_daily", ("day",)),
    ):
        assert summed(await read_table(store_url, coarse), *keys) == summed(fine, *keys), coarse
    minutes = await read_table(store_url, "pulls")
    assert minutes and min(r["minute"] for r in minutes) >= NOW - timedelta(days=MINUTE_DAYS, minutes=1)
    assert counted(minutes) < counted(hourly)
    tags = await read_table(store_url, "tags")
    assert len(tags) == len(registry.current) == rows["tags"] >= SHAPE.tags
    live = {
        (r["repository"], r["digest"]) for r in await read_table(store_url, "manifests", "deleted_at IS NULL")
    }
    assert {(t["repository"], t["digest"]) for t in tags} <= live
    assert len(await read_table(store_url, "audit_log")) == SHAPE.audit_rows


def test_a_seed_draws_the_same_store() -> None:
    first = [(table, len(batch), batch[0]) for table, batch in chunks(SHAPE, 3)[1]]
    assert first == [(table, len(batch), batch[0]) for table, batch in chunks(SHAPE, 3)[1]]


def test_every_api_operation_is_timed() -> None:
    routes = api.routes()
    timed = {(method, path) for method, path, _ in operations(openapi_document(routes), "team00/app00000")}
    for route in routes:
        assert isinstance(route, Route)
        path = route.path.replace("{name:path}", "team00/app00000").replace("{id}", "pass-000")
        for method in (route.methods or set()) - {"HEAD"}:
            if not path.endswith("/apply"):
                assert (method, path) in timed, (method, path)
