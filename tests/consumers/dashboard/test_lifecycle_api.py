"""The lifecycle endpoints over a store with a lifecycle at known times (``lifecycle_store``),
on SQLite and on PostgreSQL, read by a viewer's token: every figure is worked out by hand
from the seeded events."""

from __future__ import annotations

from typing import Any

import httpx

from tests.consumers.dashboard.access import VIEWER, bearer, secured
from tests.consumers.dashboard.lifecycle_store import NOW, ago, digest, image_bytes, lifecycle_store
from tests.consumers.dashboard.server import running_dashboard

POLICY = """\
rules:
  - repositories: "team/*"
    keep_last_pushed: 1
    delete_untagged_after_days: 7
"""


def iso(days: float) -> str:
    return ago(days).strftime("%Y-%m-%dT%H:%M:%SZ")


async def get(client: httpx.AsyncClient, path: str, **query: Any) -> Any:
    response = await client.get(path, params=query)
    assert response.status_code == 200, response.text
    return response.json()


def pulls(gets: int, heads: int) -> dict[str, int]:
    return {"gets": gets, "heads": heads, "total": gets + heads}


async def check_repository(client: httpx.AsyncClient) -> None:
    body = await get(client, "/api/v1/repositories/team/app/lifecycle")
    assert (body["repository"], body["now"], body["untagged"]) == ("team/app", "2026-11-29T02:10:00Z", 1)
    tags = body["tags"]["items"]
    assert [t["tag"] for t in tags] == ["v2", "v1"]  # latest push first
    v2, v1 = tags
    assert (v2["digest"], v2["last_pushed_at"], v2["pushed_by"]) == (digest("b"), iso(10), "bob")
    assert (v2["last_get_at"], v2["last_head_at"], v2["last_pulled_at"]) == (iso(2), iso(1), iso(1))
    # the GET by digest 5 days ago counts for v2, which pointed at the digest then
    assert (v2["pulls_7d"], v2["pulls_30d"], v2["pulls_90d"]) == (pulls(2, 1), pulls(2, 1), pulls(2, 1))
    assert (v1["pushed_by"], v1["last_get_at"], v1["last_head_at"]) == ("alice", iso(100), None)
    assert (v1["pulls_7d"], v1["pulls_90d"]) == (pulls(0, 0), pulls(0, 0))
    manifests = body["manifests"]["items"]
    assert [(m["digest"], m["tags"]) for m in manifests] == [
        (digest("b"), ["v2"]),
        (digest("c"), []),
        (digest("a"), ["v1"]),
    ]
    assert [m["size"] for m in manifests] == [image_bytes(n) for n in "bca"]
    assert [m["last_pulled_at"] for m in manifests] == [iso(1), None, iso(100)]
    assert {m["kind"] for m in manifests} == {"image"}
    held = body["storage"]
    assert (held["bytes"], held["manifests"], held["blobs"]) == (sum(image_bytes(n) for n in "abc"), 3, 8)
    series = body["series"]
    assert (series["step"], series["window"]["since"]) == ("hour", iso(30))  # the last 30 days
    assert sum(p["pushes"] for p in series["items"]) == 2  # c and b; a was pushed 120 days ago
    assert sum(p["pulls"] for p in series["items"]) == 3
    paged = await get(client, "/api/v1/repositories/team/app/lifecycle", limit=1, offset=1)
    assert [t["tag"] for t in paged["tags"]["items"]] == ["v1"]
    assert paged["tags"]["page"]["next_offset"] is None and paged["manifests"]["page"]["next_offset"] == 2
    missing = await client.get("/api/v1/repositories/team/nope/lifecycle")
    assert missing.status_code == 404 and "team/nope" in missing.json()["detail"]


async def check_stale(client: httpx.AsyncClient) -> None:
    quarter = await get(client, "/api/v1/lifecycle/stale")  # 90 days by default
    assert (quarter["days"], quarter["not_pulled_since"]) == (90, iso(90))
    # c (three layers), d (two), a (one; last pulled 100 days ago); b was pulled yesterday
    assert [(m["repository"], m["digest"]) for m in quarter["items"]] == [
        ("team/app", digest("c")),
        ("team/lib", digest("d")),
        ("team/app", digest("a")),
    ]
    assert [m["size"] for m in quarter["items"]] == [image_bytes(n) for n in "cda"]
    year = await get(client, "/api/v1/lifecycle/stale", days=365)
    assert [m["digest"] for m in year["items"]] == [digest("c"), digest("d")]  # never pulled
    first = await get(client, "/api/v1/lifecycle/stale", limit=2)
    second = await get(client, "/api/v1/lifecycle/stale", limit=2, offset=2)
    assert [m["digest"] for m in first["items"] + second["items"]] == [digest(n) for n in "cda"]
    assert (first["page"]["next_offset"], second["page"]["next_offset"]) == (2, None)
    bad = await client.get("/api/v1/lifecycle/stale", params={"days": "0"})
    assert bad.status_code == 400 and "days=0 must be at least 1" in bad.json()["detail"]


async def check_storage(client: httpx.AsyncClient) -> None:
    body = await get(client, "/api/v1/lifecycle/storage")
    app, lib = sum(image_bytes(n) for n in "abc"), image_bytes("d")
    assert [(r["repository"], r["bytes"], r["manifests"]) for r in body["items"]] == [
        ("team/app", app, 3),
        ("team/lib", lib, 1),
    ]
    assert (body["total"]["bytes"], body["repository_count"]) == (app + lib, 2)
    assert body["as_of"] == "2026-11-29T02:10:00Z"
    assert body["history"] == [{"day": "2026-11-29T00:00:00Z", "bytes": app + lib}]
    one = await get(client, "/api/v1/lifecycle/storage", limit=1, offset=1)
    assert [r["repository"] for r in one["items"]] == ["team/lib"] and one["page"]["next_offset"] is None


async def check_preview(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/v1/lifecycle/cleanup/preview", content=POLICY)
    assert answer.status_code == 200, answer.text
    plan = answer.json()
    # team/app keeps b (its last push), deletes a (no keep condition holds) and c (untagged
    # for 20 days); team/lib keeps d, its only tagged manifest
    assert sorted((d["digest"], d["bytes_freed"]) for d in plan["delete"]) == sorted(
        (digest(n), image_bytes(n)) for n in "ac"
    )
    assert sorted(k["digest"] for k in plan["keep"]) == sorted(digest(n) for n in "bd")
    assert plan["bytes_freed"] == image_bytes("a") + image_bytes("c")
    assert all(d["reason"] and d["rule"] == "team/*" for d in plan["delete"])
    assert plan["created_at"].startswith("2026-11-29T02:10:00")


async def check_policy_errors(client: httpx.AsyncClient) -> None:
    wrong = POLICY.replace("keep_last_pushed: 1", "keep_last_pushed: two").replace("delete_", "colour_")
    answer = await client.post("/api/v1/lifecycle/cleanup/preview", content=wrong)
    assert answer.status_code == 400
    body = answer.json()
    assert body["detail"].startswith("the policy:3: rules[0].keep_last_pushed: must be a whole number")
    assert [p["line"] for p in body["problems"]] == [3, 4] and "colour_untagged" in body["problems"][1][
        "message"
    ]
    empty = await client.post("/api/v1/lifecycle/cleanup/preview", content=b"")
    assert empty.status_code == 400 and "empty" in empty.json()["detail"]
    latin = await client.post("/api/v1/lifecycle/cleanup/preview", content="rules: [é]".encode("latin-1"))
    assert (latin.status_code, latin.json()["detail"]) == (400, "the policy: not UTF-8 text")
    aliases = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]  # nine to the ninth if anything expanded them
    aliases += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)]
    bomb = "\n".join([*aliases, f"rules: [{', '.join(['*a8'] * 9)}]"])
    exploded = await client.post("/api/v1/lifecycle/cleanup/preview", content=bomb)
    assert exploded.status_code == 400 and "rules[8]: must be a mapping" in exploded.json()["detail"]
    huge = await client.post("/api/v1/lifecycle/cleanup/preview", content=b"#" * (64 * 1024 + 1))
    assert huge.status_code == 413 and "at most 65536" in huge.json()["detail"]


async def test_the_lifecycle_endpoints_answer_the_seeded_facts(store_url: str) -> None:
    url = await lifecycle_store(store_url)
    async with (
        running_dashboard(secured(url), NOW) as base,
        httpx.AsyncClient(base_url=base, timeout=30, headers=bearer(VIEWER)) as client,
    ):  # a viewer: the preview is a read
        await check_repository(client)
        await check_stale(client)
        await check_storage(client)
        await check_preview(client)
        await check_policy_errors(client)
