"""The JSON API over a store filled by the real pipeline (broker → consumers), on SQLite
and on PostgreSQL (the ``backend`` parameter of ``store_url``). Every expected number
is worked out from the fixture's raw events by ``session_facts``."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.consumers.conftest import MakeSettings
from tests.consumers.dashboard import session_facts as facts
from tests.consumers.dashboard.pipeline import populate_store
from tests.consumers.dashboard.server import dashboard_server

pytestmark = pytest.mark.kafka

NOW = datetime(2026, 11, 29, 2, 10, tzinfo=UTC)  # a few minutes after the session
SESSION = {"since": "2026-11-29T02:00:00Z", "until": "2026-11-29T02:10:00Z"}
Events = list[facts.Ev]


async def get(client: httpx.AsyncClient, path: str, **query: Any) -> Any:
    response = await client.get(path, params=query)
    assert response.status_code == 200, response.text
    return response.json()


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def check_repositories(client: httpx.AsyncClient, events: Events) -> None:
    body = await get(client, "/api/v1/repositories")
    rows = {row["name"]: row for row in body["items"]}
    assert sorted(rows) == sorted({e.repository for e in events if e.action != "pull"})
    tags, size = facts.live_tags(events), facts.stored_bytes(events)
    for name, row in rows.items():
        assert row["tags"] == len(tags.get(name, ())), name
        assert row["size"] == size.get(name, 0), name
        pulled = [e for e in facts.pulls(events) if e.repository == name]
        assert row["image_pulls_24h"] == facts.pull_counters(pulled)["manifest_gets"], name
        assert row["pull_requests_24h"] == len(pulled), name
        last_push = max((e.time for e in events if e.action == "push" and e.repository == name), default=None)
        assert row["last_pushed_at"] == (last_push.isoformat().replace("+00:00", "Z") if last_push else None)
    by_size = await get(client, "/api/v1/repositories", sort="size")
    assert [r["name"] for r in by_size["items"]] == sorted(rows, key=lambda n: (-size.get(n, 0), n))
    by_push = await get(client, "/api/v1/repositories", sort="last_push")
    assert [r["name"] for r in by_push["items"]] == ["team/hello", "team/copy", "team/other"]  # other: never
    by_pulls = await get(client, "/api/v1/repositories", sort="pulls")
    assert [r["name"] for r in by_pulls["items"]][:2] == ["team/hello", "team/copy"]


async def check_one_repository(client: httpx.AsyncClient, events: Events) -> None:
    live = facts.live_tags(events)["team/hello"]
    one = await get(client, "/api/v1/repositories/team/hello")
    assert (one["name"], one["tags"], one["manifests"]) == ("team/hello", len(live), 2)
    tags = await get(client, "/api/v1/repositories/team/hello/tags", limit=500)
    assert [t["tag"] for t in tags["items"]] == sorted(live)
    index = next(t for t in tags["items"] if t["tag"] == "multi")
    assert (index["media_type"], index["size"]) == ("application/vnd.oci.image.index.v1+json", 289)
    manifests = await get(client, "/api/v1/repositories/team/hello/manifests")
    by_digest = {m["digest"]: m for m in manifests["items"]}
    v1 = next(e for e in events if e.action == "push" and e.tag == "v1" and e.repository == "team/hello")
    assert by_digest[v1.digest or ""]["tags"] == sorted(live - {"multi"})
    copy = await get(client, "/api/v1/repositories/team/copy/manifests")
    assert copy["items"] == []  # its only manifest was deleted
    deleted = await get(client, "/api/v1/repositories/team/copy/manifests", include_deleted="true")
    assert [m["deleted_by"] for m in deleted["items"]] == ["alice"]
    missing = await client.get("/api/v1/repositories/team/nope/tags")
    assert missing.status_code == 404 and "team/nope" in missing.json()["detail"]


async def check_pull_series(client: httpx.AsyncClient, events: Events) -> None:
    per_minute = facts.per_minute(facts.pulls(events))
    body = await get(client, "/api/v1/pulls/series", step="minute", **SESSION)
    assert body["step"] == "minute" and len(body["items"]) == 10  # zero-filled 02:00 … 02:09
    assert {p["time"]: p["requests"] for p in body["items"] if p["requests"]} == {
        iso(m): n for m, n in per_minute.items()
    }
    hourly = await get(client, "/api/v1/pulls/series", step="hour", **SESSION)
    assert hourly["items"] == [{"time": "2026-11-29T02:00:00Z", **facts.pull_counters(facts.pulls(events))}]
    copy = await get(client, "/api/v1/pulls/series", step="day", repository="team/copy", **SESSION)
    expected = facts.pull_counters(e for e in facts.pulls(events) if e.repository == "team/copy")
    assert copy["items"] == [{"time": "2026-11-29T00:00:00Z", **expected}]


async def check_load(client: httpx.AsyncClient, events: Events) -> None:
    body = await get(client, "/api/v1/load", step="minute", **SESSION)
    points = {p["time"]: p for p in body["items"]}
    pushed = facts.push_events(events)
    assert {t: p["pushes"] for t, p in points.items() if p["pushes"]} == {
        iso(m): n for m, n in facts.per_minute(pushed).items()
    }
    assert sum(p["bytes_pushed"] for p in points.values()) == sum(e.size or 0 for e in pushed)
    assert (
        sum(p["bytes_pulled"] for p in points.values()) == facts.pull_counters(facts.pulls(events))["bytes"]
    )
    assert (
        sum(p["image_pulls"] for p in points.values())
        == facts.pull_counters(facts.pulls(events))["manifest_gets"]
    )
    copy = await get(client, "/api/v1/load", step="hour", repository="team/copy", **SESSION)
    copy_pushes = [e for e in pushed if e.repository == "team/copy"]
    copy_pulls = [e for e in facts.pulls(events) if e.repository == "team/copy"]
    assert [(p["pulls"], p["pushes"], p["bytes_pushed"]) for p in copy["items"]] == [
        (len(copy_pulls), len(copy_pushes), sum(e.size or 0 for e in copy_pushes))
    ]


async def check_top_lists(client: httpx.AsyncClient, events: Events) -> None:
    images = await get(client, "/api/v1/top/images", **SESSION)
    pulled = facts.pulls(events)
    assert [(i["repository"], i["requests"], i["bytes"]) for i in images["items"]] == [
        (name, c["requests"], c["bytes"])
        for name in ("team/hello", "team/copy")
        for c in [facts.pull_counters(e for e in pulled if e.repository == name)]
    ]
    refs = await get(client, "/api/v1/top/images", by="reference", repository="team/hello", **SESSION)
    per_reference = Counter((e.tag or e.digest) for e in pulled if e.repository == "team/hello")
    assert {r["reference"]: r["requests"] for r in refs["items"]} == dict(per_reference)
    clients = await get(client, "/api/v1/top/clients", **SESSION)
    found = {(c["actor"], c["addr"], c["useragent"]): c["requests"] for c in clients["items"]}
    assert found == dict(facts.top_clients(events))
    assert [c["requests"] for c in clients["items"]] == sorted(found.values(), reverse=True)
    later = await get(
        client, "/api/v1/top/clients", since="2026-11-29T02:06:00Z", until="2026-11-29T02:07:00Z"
    )
    assert (
        sum(c["requests"] for c in later["items"])
        == facts.per_minute(pulled)[datetime(2026, 11, 29, 2, 6, tzinfo=UTC)]
    )


async def check_activity(client: httpx.AsyncClient, events: Events) -> None:
    body = await get(client, "/api/v1/activity", limit=500)
    expected = facts.listed_pushes(events) + facts.audited(events)
    assert len(body["items"]) == len(expected)
    assert [r["time"] for r in body["items"]] == sorted((r["time"] for r in body["items"]), reverse=True)
    pushes = await get(client, "/api/v1/activity", action="push", kind="manifest", limit=3)
    newest = sorted(
        (e for e in facts.listed_pushes(events) if not e.is_blob), key=lambda e: e.time, reverse=True
    )[:3]
    assert [(r["repository"], r["tag"], r["size"]) for r in pushes["items"]] == [
        (e.repository, e.tag, e.size) for e in newest
    ]
    assert pushes["page"]["next_offset"] == 3


async def check_audit(client: httpx.AsyncClient, events: Events) -> None:
    body = await get(client, "/api/v1/audit")
    audited = facts.audited(events)
    assert sorted(r["event_id"] for r in body["items"]) == sorted(e.id for e in audited)
    deletes = await get(client, "/api/v1/audit", action="delete", repository="team/copy")
    assert sorted(r["tag"] or r["digest"] for r in deletes["items"]) == sorted(
        e.tag or e.digest or "" for e in audited if e.action == "delete" and e.repository == "team/copy"
    )
    by_bob = await get(client, "/api/v1/audit", actor="bob")
    assert [(r["action"], r["kind"], r["repository"]) for r in by_bob["items"]] == [
        ("delete", "blob", "team/other")
    ]
    assert by_bob["items"][0]["raw"]["actor"] == {"name": "bob"}
    since, until = datetime(2026, 11, 29, 2, 3, 16, tzinfo=UTC), datetime(2026, 11, 29, 2, 3, 25, tzinfo=UTC)
    window = await get(client, "/api/v1/audit", since=iso(since), until=iso(until))
    assert sorted(r["event_id"] for r in window["items"]) == sorted(
        e.id for e in audited if since <= e.time < until
    )


async def check_summary(client: httpx.AsyncClient, events: Events) -> None:
    body = await get(client, "/api/v1/summary", **SESSION)
    counters = facts.pull_counters(facts.pulls(events))
    assert body["pulls"] == {**counters, "heads": counters["manifest_heads"] + counters["blob_heads"]}
    pushed = facts.push_events(events)
    assert body["pushes"] == {
        "count": len(pushed),
        "manifests": sum(1 for e in pushed if not e.is_blob),
        "blobs": sum(1 for e in pushed if e.is_blob),
        "bytes": sum(e.size or 0 for e in pushed),
    }
    actions = [e.action for e in facts.audited(events)]
    assert (body["deletes"], body["mounts"]) == (actions.count("delete"), actions.count("mount"))
    assert body["repositories"] == {"total": 3, "active": len({e.repository for e in facts.pulls(events)})}


async def check_repository_filter(client: httpx.AsyncClient, events: Events) -> None:
    """``repository=`` narrows every figure of ``/summary`` and the repository list."""
    for name in ("team/copy", "team/hello", "team/other"):
        mine = [e for e in events if e.repository == name]
        body = await get(client, "/api/v1/summary", repository=name, **SESSION)
        pulled = int(any(e.action == "pull" for e in mine))
        assert body["repositories"] == {"total": 1, "active": pulled}, name
        assert body["pulls"]["requests"] == len(facts.pulls(mine)), name
        assert body["pushes"]["count"] == len(facts.push_events(mine)), name
        assert body["deletes"] == sum(1 for e in mine if e.action == "delete"), name
        assert body["mounts"] == sum(1 for e in mine if e.action == "mount"), name
        listed = await get(client, "/api/v1/repositories", repository=name)
        assert [r["name"] for r in listed["items"]] == [name]
    unknown = await get(client, "/api/v1/summary", repository="team/nope", **SESSION)
    assert unknown["repositories"] == {"total": 0, "active": 0}
    assert (await get(client, "/api/v1/repositories", repository="team/nope"))["items"] == []


async def check_pagination(client: httpx.AsyncClient) -> None:
    first = await get(client, "/api/v1/repositories", limit=2)
    second = await get(client, "/api/v1/repositories", limit=2, offset=first["page"]["next_offset"])
    names = [r["name"] for r in first["items"] + second["items"]]
    assert names == sorted(names) and len(set(names)) == 3
    assert (first["page"]["next_offset"], second["page"]["next_offset"]) == (2, None)


async def test_api_over_the_replayed_session(
    make_settings: MakeSettings, fixture_session: list[dict[str, Any]]
) -> None:
    url = await populate_store(make_settings, fixture_session)
    events = facts.unique_events(fixture_session)
    async with dashboard_server(url, NOW) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        await check_repositories(client, events)
        await check_one_repository(client, events)
        await check_pull_series(client, events)
        await check_load(client, events)
        await check_top_lists(client, events)
        await check_activity(client, events)
        await check_audit(client, events)
        await check_summary(client, events)
        await check_repository_filter(client, events)
        await check_pagination(client)
