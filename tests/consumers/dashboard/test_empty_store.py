"""The API over an empty (freshly migrated) store, and its answers to bad queries, on
SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.consumers.dashboard.server import dashboard_server
from tests.support.database import migrate_store

NOW = datetime(2026, 11, 29, 2, 10, tzinfo=UTC)
LISTS = (
    "/api/v1/repositories",
    "/api/v1/top/images",
    "/api/v1/top/clients",
    "/api/v1/activity",
    "/api/v1/audit",
    "/api/v1/lifecycle/stale",
    "/api/v1/lifecycle/storage",
)


async def test_an_empty_store_answers_empty_pages_and_zeroes(store_url: str) -> None:
    await migrate_store(store_url)
    async with dashboard_server(store_url, NOW) as base, httpx.AsyncClient(base_url=base) as client:
        for path in LISTS:
            body = (await client.get(path)).json()
            assert (body["items"], body["page"]["next_offset"]) == ([], None), path
        load = (await client.get("/api/v1/load", params={"range": "15m"})).json()
        assert len(load["items"]) == 15 and not any(p["pulls"] or p["pushes"] for p in load["items"])
        summary = (await client.get("/api/v1/summary")).json()
        assert (summary["pulls"]["requests"], summary["pushes"]["count"], summary["deletes"]) == (0, 0, 0)
        assert (await client.get("/api/v1/health")).json() == {"status": "ok"}
        assert (await client.get("/api/v1/repositories/team/hello")).status_code == 404
        assert (await client.get("/api/v1/repositories/team/hello/lifecycle")).status_code == 404
        storage = (await client.get("/api/v1/lifecycle/storage")).json()
        assert (storage["as_of"], storage["total"]["bytes"], storage["history"]) == (None, 0, [])


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("/api/v1/load", {"range": "5 minutes"}, "range='5 minutes' is not a duration"),
        ("/api/v1/load", {"range": "30d", "step": "minute"}, "more than 1500 buckets"),
        ("/api/v1/audit", {"since": "yesterday"}, "since='yesterday' is not an RFC 3339 time"),
        ("/api/v1/repositories", {"limit": "0"}, "limit=0 must be at least 1"),
        ("/api/v1/repositories", {"sort": "colour"}, "sort='colour' is not one of"),
        ("/api/v1/top/images", {"by": "tag"}, "by='tag' is not one of repository, reference"),
        ("/api/v1/lifecycle/stale", {"days": "ninety"}, "days='ninety' is not an integer"),
        ("/api/v1/lifecycle/stale", {"days": "36501"}, "days=36501 must be at least 1 and at most 36500"),
        ("/api/v1/lifecycle/storage", {"offset": "-1"}, "offset=-1 must be at least 0"),
    ],
)
async def test_bad_queries_get_400_naming_the_parameter(
    tmp_path: Path, path: str, query: dict[str, str], message: str
) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    await migrate_store(url)
    async with dashboard_server(url, NOW) as base, httpx.AsyncClient(base_url=base) as client:
        response = await client.get(path, params=query)
    assert response.status_code == 400
    assert message in response.json()["detail"]


@pytest.mark.parametrize(
    "url",
    ["sqlite:///{tmp}/never-migrated.db", "postgresql://postgres@127.0.0.1:1/nothing-listens-here"],
)
async def test_a_store_that_does_not_answer_gets_503(tmp_path: Path, url: str) -> None:
    async with (
        dashboard_server(url.format(tmp=tmp_path), NOW) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        for path in ("/api/v1/health", "/api/v1/summary", "/api/v1/repositories"):
            response = await client.get(path)
            assert response.status_code == 503, path
            assert response.json()["detail"].startswith("the store did not answer"), path
