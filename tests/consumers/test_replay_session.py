"""Replaying the real registry 2.8.2 session through the real bridge yields the expected
inventory, pull statistics and audit rows, on SQLite and on PostgreSQL: every POST goes
to ``registry-bridge``'s app (uvicorn on a free port), which publishes to the real broker,
where the three consumers read it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.consumers import expected_session as expected
from tests.consumers.conftest import MakeSettings
from tests.support.consumers import running, wait_processed
from tests.support.database import read_table
from tests.support.kafka import consume, create_topics
from tests.support.replay import post_session

pytestmark = pytest.mark.kafka


def by_key(rows: list[dict[str, Any]], *keys: str) -> dict[Any, dict[str, Any]]:
    return {tuple(row[k] for k in keys) if len(keys) > 1 else row[keys[0]]: row for row in rows}


async def replay(make_settings: MakeSettings, session: list[dict[str, Any]]) -> str:
    """POST the session to the bridge, run push (and pull) to the end, then other: deletes
    are matched against the manifests the push consumer stored (see docs/consumers.md)."""
    push, pull, other = (make_settings(name) for name in ("push", "pull", "other"))
    topics = [push.topic, pull.topic, other.topic]
    await create_topics(push.kafka.bootstrap_servers, topics)
    replayed = await post_session(push.kafka.bootstrap_servers, push.topic_prefix, session)
    assert len(replayed.statuses) == expected.POSTS
    # The registry's retries resend the same event id: the bridge answers them 200 as
    # duplicates and publishes each distinct event once.
    unique = sum(expected.UNIQUE_EVENTS.values())
    assert replayed.outcomes == {
        "published": unique,
        "duplicates": expected.POSTS - unique,
        "filtered": 0,
        "quarantined": 0,
    }
    landed = await consume(push.kafka.bootstrap_servers, topics, expect=unique)
    assert {h: sum(r.topic.endswith(f".{h}") for r in landed) for h in expected.UNIQUE_EVENTS} == (
        expected.UNIQUE_EVENTS
    )
    url = push.database_url
    async with running(push), running(pull):
        for handler in ("push", "pull"):
            count = expected.UNIQUE_EVENTS[handler]
            assert await wait_processed(url, handler, count) == count
    async with running(other):
        count = expected.UNIQUE_EVENTS["other"]
        assert await wait_processed(url, "other", count) == count
    return url


async def test_session_replay_builds_inventory_statistics_and_audit(
    make_settings: MakeSettings, fixture_session: list[dict[str, Any]]
) -> None:
    url = await replay(make_settings, fixture_session)

    repositories = by_key(await read_table(url, "repositories"), "name")
    assert {
        name: (r["first_seen_at"], r["last_pushed_at"], r["last_pushed_by"])
        for name, r in repositories.items()
    } == expected.REPOSITORIES

    manifests = by_key(await read_table(url, "manifests"), "repository", "digest")
    columns = (
        "media_type",
        "size",
        "first_pushed_at",
        "last_pushed_at",
        "pushed_by",
        "push_count",
        "deleted_at",
        "deleted_by",
    )
    assert {key: tuple(row[c] for c in columns) for key, row in manifests.items()} == expected.MANIFESTS

    tags = by_key(await read_table(url, "tags"), "repository", "tag")
    assert {k: r["digest"] for k, r in tags.items() if r["deleted_at"] is None} == expected.LIVE_TAGS
    assert {
        k: r["deleted_at"] for k, r in tags.items() if r["deleted_at"] is not None
    } == expected.DELETED_TAGS

    blobs = by_key(await read_table(url, "repository_blobs"), "repository", "digest")
    blob_columns = ("size", "source", "mounted_from", "deleted_at", "deleted_by")
    assert {key: tuple(row[c] for c in blob_columns) for key, row in blobs.items()} == expected.BLOBS

    pushes = by_key(await read_table(url, "pushes"), "minute", "repository", "kind")
    push_columns = ("count", "bytes", "last_pushed_at")
    assert {key: tuple(row[c] for c in push_columns) for key, row in pushes.items()} == expected.PUSHES

    counters = ("manifest_gets", "manifest_heads", "blob_gets", "blob_heads", "bytes")
    pulls = by_key(await read_table(url, "pulls"), "minute", "repository", "reference")
    assert {key: tuple(row[c] for c in counters) for key, row in pulls.items()} == expected.PULLS
    clients = by_key(
        await read_table(url, "pull_clients"), "minute", "repository", "actor", "client_addr", "useragent"
    )
    assert {key: tuple(row[c] for c in counters) for key, row in clients.items()} == expected.PULL_CLIENTS
    rollups = [
        ("pulls_hourly", ("hour", "repository", "reference"), expected.PULLS_HOURLY),
        ("pulls_daily", ("day", "repository", "reference"), expected.PULLS_DAILY),
        (
            "pull_clients_daily",
            ("day", "repository", "actor", "client_addr", "useragent"),
            expected.PULL_CLIENTS_DAILY,
        ),
    ]
    for table, key, wanted in rollups:
        rolled = by_key(await read_table(url, table), *key)
        assert {k: tuple(row[c] for c in counters) for k, row in rolled.items()} == wanted, table

    audit = await read_table(url, "audit_log")
    audit_columns = (
        "action",
        "kind",
        "repository",
        "tag",
        "digest",
        "from_repository",
        "actor",
        "occurred_at",
    )
    assert {row["event_id"][:8]: tuple(row[c] for c in audit_columns) for row in audit} == expected.AUDIT
    assert all(row["raw"]["id"] == row["event_id"] and row["useragent"] for row in audit)
