"""Every other registry's samples through the whole pipeline: the real bridge, the broker,
then the push, other (and, for Harbor, pull) consumers, on SQLite and PostgreSQL. The
store then holds the inventory and audit rows the samples' expected fields give: live
tags with their digests (NULL where the sender reports none), live manifests, tombstoned
tags, one audit row per delete with its kind, the repositories' source kind. One run per
kind, because several senders' samples share repository names."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.contract import SOURCES, TopicRouter, decode_event
from tests.consumers.conftest import MakeSettings
from tests.consumers.dashboard.server import dashboard_server
from tests.support.bridge import bridge_settings, running_bridge
from tests.support.consumers import running, wait_processed
from tests.support.database import read_table
from tests.support.kafka import consume
from tests.support.sources import SAMPLES, PushTokens, request_headers, source_settings

pytestmark = pytest.mark.kafka
KINDS = tuple(dict.fromkeys(s.source for s in SAMPLES))


def expected_events(kind: str) -> list[dict[str, Any]]:
    return [e for s in SAMPLES if s.source == kind and s.is_image_event for e in s.expected]


def audit_kind(kind: str, event: dict[str, Any]) -> str:
    """What ``docs/consumers.md`` says a delete is, from what it names."""
    if event["digest"] and (not event["tag"] or SOURCES[kind].artifact_deletes):
        return "manifest"
    return "tag"


def expected_inventory(kind: str) -> dict[str, Any]:
    """Tags, manifests and tombstones after the kind's events, in the samples' order."""
    tags: dict[tuple[str, str], str | None] = {}
    manifests: set[tuple[str, str]] = set()
    tombstones: set[tuple[str, str]] = set()
    for event in expected_events(kind):
        repo, tag, digest = event["repository"], event["tag"], event["digest"]
        if event["action"] == "push":
            if tag:
                tags[(repo, tag)] = digest
                tombstones.discard((repo, tag))
            if digest:
                manifests.add((repo, digest))
        elif event["action"] == "delete":
            if tag:
                tags.pop((repo, tag), None)
                tombstones.add((repo, tag))
            if audit_kind(kind, event) == "manifest":
                manifests.discard((repo, digest))
                for key in [key for key, value in tags.items() if key[0] == repo and value == digest]:
                    tags.pop(key)
                    tombstones.add(key)
    return {"tags": tags, "manifests": manifests, "tombstones": tombstones}


async def post_samples(kind: str, bootstrap: str, prefix: str, tmp_path: Path) -> dict[str, list[Any]]:
    """Every sample of ``kind`` through a real bridge; the events that landed, per handler."""
    tokens = PushTokens(tmp_path)
    settings = bridge_settings(bootstrap, prefix, sources=source_settings(tokens, (kind,)))
    async with running_bridge(settings) as bridge:
        for item in (s for s in SAMPLES if s.source == kind):
            headers = request_headers(item, tokens)
            response = await bridge.client.post(item.path(), content=item.body.encode(), headers=headers)
            assert response.status_code == 200, response.text
    router = TopicRouter(prefix)
    topics = [router.handler_topic(name) for name in ("push", "pull", "other")]
    landed = await consume(bootstrap, topics, expect=len(expected_events(kind)))
    per_handler: dict[str, list[Any]] = {"push": [], "pull": [], "other": []}
    for record in landed:
        per_handler[record.topic.rsplit(".", 1)[1]].append(decode_event(record.value))
    return per_handler


async def run_consumers(make_settings: MakeSettings, store_url: str, landed: dict[str, list[Any]]) -> None:
    wanted = {name: len(events) for name, events in landed.items() if events}
    async with (
        running(make_settings("push")),
        running(make_settings("other")),
        running(make_settings("pull")),
    ):
        for name, count in wanted.items():
            assert await wait_processed(store_url, name, count, within=60) == count, name


def live(rows: list[dict[str, Any]], *key: str, value: Callable[[dict[str, Any]], Any] | None = None) -> Any:
    chosen = [r for r in rows if r["deleted_at"] is None]
    if value is None:
        return {tuple(r[k] for k in key) for r in chosen}
    return {tuple(r[k] for k in key): value(r) for r in chosen}


@pytest.mark.parametrize("kind", KINDS)
async def test_samples_become_the_expected_inventory_and_audit_rows(
    kind: str,
    kafka_bootstrap: str,
    topic_prefix: str,
    store_url: str,
    make_settings: MakeSettings,
    tmp_path: Path,
) -> None:
    landed = await post_samples(kind, kafka_bootstrap, topic_prefix, tmp_path)
    await run_consumers(make_settings, store_url, landed)
    expected = expected_inventory(kind)
    tags = await read_table(store_url, "tags")
    assert live(tags, "repository", "tag", value=lambda r: r["digest"]) == expected["tags"]
    assert {(r["repository"], r["tag"]) for r in tags if r["deleted_at"] is not None} == expected[
        "tombstones"
    ]
    assert live(await read_table(store_url, "manifests"), "repository", "digest") == expected["manifests"]
    pushed = {e["repository"] for e in expected_events(kind) if e["action"] == "push"}
    repositories = await read_table(store_url, "repositories")
    assert {(r["name"], r["source"]) for r in repositories} == {(name, kind) for name in pushed}
    await check_dashboard(store_url, kind, pushed)
    assert await read_table(store_url, "repository_blobs") == []  # other registries report no blobs
    audit = await read_table(store_url, "audit_log")
    deletes = [e for e in expected_events(kind) if e["action"] == "delete"]
    assert sorted((r["repository"], r["tag"], r["digest"], r["kind"]) for r in audit) == sorted(
        (e["repository"], e["tag"], e["digest"], audit_kind(kind, e)) for e in deletes
    )
    assert {r["event_id"] for r in audit} == {e.id for e in landed["other"]}
    assert all(r["raw"]["source"]["kind"] == kind and r["raw"]["source"]["payload"] for r in audit)
    pulls = [e for e in expected_events(kind) if e["action"] == "pull"]
    # the daily rollup: the samples are months old, and the pull consumer's retention prunes
    # minute buckets older than 14 days as soon as it starts
    pull_rows = await read_table(store_url, "pulls_daily")
    assert sum(r["manifest_gets"] for r in pull_rows) == len(pulls)
    assert {(r["repository"], r["reference"]) for r in pull_rows} == {
        (e["repository"], e["tag"] or e["digest"]) for e in pulls
    }


async def check_dashboard(store_url: str, kind: str, repositories: set[str]) -> None:
    """The API says which facts the kind reports, and shows its pulls only where they exist."""
    async with (
        dashboard_server(store_url, datetime.now(UTC)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        items = {item["kind"]: item for item in (await client.get("/api/v1/sources")).json()["items"]}
        assert items[kind]["repositories"] == len(repositories)
        assert items[kind]["pulls"] == SOURCES[kind].pulls
        assert items["distribution"]["pulls"] and items["harbor"]["pulls"] and not items["quay"]["pulls"]
        listed = (await client.get("/api/v1/repositories")).json()["items"]
        assert {(r["name"], r["source"], r["pulls_reported"]) for r in listed} == {
            (name, kind, SOURCES[kind].pulls) for name in repositories
        }
