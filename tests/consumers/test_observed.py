"""Observations applied by the push and other handlers, on SQLite and PostgreSQL: only onto rows
last changed before them, one ``reconcile`` audit row per repair, idempotent on replay, never
counted as pushes or pulls; and the registry instances every consumer records."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from common.contract import CLEANUP_USER_AGENT, RECONCILE_USER_AGENT, Event, Observation
from consumers.handlers.base import Delivery
from consumers.handlers.observed import ObservedPlan, repair_for
from consumers.handlers.other import OtherHandler
from consumers.handlers.pull import PullHandler
from consumers.handlers.push import PushHandler
from consumers.store.engine import create_engine
from consumers.store.instances import instance_rows, instances_after, record_instances
from consumers.store.observed import Row
from consumers.store.tables import audit_log, manifests, pulls, pushes, repositories, tags

T0 = datetime(2026, 12, 1, 10, 0, 0)
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def seen(subject: str, present: bool, at: datetime, n: int = 0, **fields: Any) -> ObservedPlan:
    stamp = at.isoformat(timespec="microseconds") + "Z"
    observation = Observation(
        f"obs-{subject}-{present}-{n}", subject, present, "team/a", stamp, "pass", **fields
    )
    return ObservedPlan(observation, at)


def push(at: datetime, digest: str, tag: str | None = "1.0", n: int = 0) -> Any:
    raw = {
        "id": f"push-{n}",
        "action": "push",
        "timestamp": at.isoformat() + "Z",
        "target": {
            "repository": "team/a",
            "digest": digest,
            "tag": tag,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": 9,
        },
        "actor": {"name": "alice"},
    }
    return PushHandler().plan(Delivery(Event.from_raw(raw), at, "p.push", 0, n))


def test_repair_for_compares_times_and_states() -> None:
    tag = seen("tag", True, T0, tag="1.0", digest=D2).observation
    assert repair_for(tag, T0, None) == "tag_added"
    assert repair_for(tag, T0, Row(T0 - timedelta(seconds=1), None, D1)) == "tag_moved"
    assert repair_for(tag, T0, Row(T0 - timedelta(seconds=1), None, D2)) is None
    assert repair_for(tag, T0, Row(T0, None, D1)) is None, "a row changed at the same time or later wins"
    assert repair_for(tag, T0, Row(T0 - timedelta(seconds=1), T0 - timedelta(seconds=1), D1)) == "tag_added"
    gone = seen("tag", False, T0, tag="1.0").observation
    assert repair_for(gone, T0, Row(T0 - timedelta(seconds=1), None, D1)) == "tag_removed"
    assert repair_for(gone, T0, Row(T0 + timedelta(seconds=1), None, D1)) is None
    assert repair_for(gone, T0, None) is None
    manifest = seen("manifest", True, T0, digest=D1).observation
    assert (
        repair_for(manifest, T0, Row(T0 - timedelta(hours=1), T0 - timedelta(minutes=1))) == "manifest_added"
    )
    assert repair_for(manifest, T0, Row(T0 - timedelta(hours=1), T0 + timedelta(minutes=1))) is None
    repository = seen("repository", False, T0).observation
    assert repair_for(repository, T0, Row(T0 - timedelta(minutes=1))) == "repository_removed"


async def _apply(url: str, handler: Any, plans: list[Any]) -> None:
    engine = create_engine(url, writer=True)
    try:
        async with engine.begin() as connection:
            await handler.apply(plans, connection)
    finally:
        await engine.dispose()


async def _rows(url: str, table: Any, *order: Any) -> list[dict[str, Any]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return [dict(r) for r in (await connection.execute(select(table).order_by(*order))).mappings()]
    finally:
        await engine.dispose()


async def test_observations_repair_only_older_rows_and_audit_each_repair(store_url: str) -> None:
    later, earlier = T0 + timedelta(seconds=30), T0 - timedelta(seconds=30)
    await _apply(store_url, PushHandler(), [push(T0, D1)])
    # older than the push: changes nothing; newer: moves the tag and audits it
    stale = seen("tag", True, earlier, 1, tag="1.0", digest=D2)
    fresh = seen("tag", True, later, 2, tag="1.0", digest=D2)
    await _apply(
        store_url,
        PushHandler(),
        [stale, seen("repository", True, earlier), seen("manifest", True, later, digest=D2)],
    )
    [tag] = await _rows(store_url, tags)
    assert tag["digest"] == D1 and tag["updated_by"] == "alice"
    await _apply(store_url, PushHandler(), [fresh])
    await _apply(store_url, PushHandler(), [fresh])  # a replay
    [tag] = await _rows(store_url, tags)
    assert (tag["digest"], tag["updated_at"], tag["updated_by"]) == (D2, later, None)
    audit = await _rows(store_url, audit_log, audit_log.c.id)
    assert [(a["action"], a["kind"], a["digest"]) for a in audit] == [
        ("reconcile", "manifest_added", D2),
        ("reconcile", "tag_moved", D2),
    ]
    assert audit[1]["raw"]["repair"] == {"kind": "tag_moved", "previous_digest": D1}
    assert audit[1]["request_id"] == "pass" and audit[1]["useragent"] == RECONCILE_USER_AGENT
    # never a push: one push counted, the reconcile's manifest has push_count 0
    assert sum(p["count"] for p in await _rows(store_url, pushes)) == 1
    counts = {m["digest"]: m["push_count"] for m in await _rows(store_url, manifests)}
    assert counts == {D1: 1, D2: 0}


async def test_absences_remove_what_is_gone_and_a_newer_push_brings_it_back(store_url: str) -> None:
    await _apply(store_url, PushHandler(), [push(T0, D1)])
    after = T0 + timedelta(minutes=1)
    absent = [
        seen("tag", False, after, tag="1.0"),
        seen("manifest", False, after, digest=D1),
        seen("repository", False, after),
    ]
    await _apply(store_url, PushHandler(), absent)  # push applies only what is present
    assert (await _rows(store_url, tags))[0]["deleted_at"] is None
    await _apply(store_url, OtherHandler(), absent)
    assert (await _rows(store_url, tags))[0]["deleted_at"] == after
    assert (await _rows(store_url, manifests))[0]["deleted_at"] == after
    assert (await _rows(store_url, repositories))[0]["deleted_at"] == after
    kinds = [a["kind"] for a in await _rows(store_url, audit_log, audit_log.c.id)]
    assert kinds == ["tag_removed", "manifest_removed", "repository_removed"]
    await _apply(store_url, PushHandler(), [push(after + timedelta(minutes=1), D1, n=5)])
    assert (await _rows(store_url, tags))[0]["deleted_at"] is None
    assert (await _rows(store_url, manifests))[0]["deleted_at"] is None
    assert (await _rows(store_url, repositories))[0]["deleted_at"] is None


async def test_the_reconciles_and_the_cleanups_own_pulls_are_not_counted(store_url: str) -> None:
    def pull(agent: str, n: int) -> Any:
        raw = {
            "id": f"pull-{n}",
            "action": "pull",
            "timestamp": T0.isoformat() + "Z",
            "target": {
                "repository": "team/a",
                "digest": D1,
                "tag": "1.0",
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
            },
            "request": {"method": "HEAD", "useragent": agent},
        }
        return PullHandler().plan(Delivery(Event.from_raw(raw), T0, "p.pull", 0, n))

    own = [pull(RECONCILE_USER_AGENT, 1), pull(CLEANUP_USER_AGENT, 3)]
    await _apply(store_url, PullHandler(), [*own, pull("docker/27", 2)])
    [row] = await _rows(store_url, pulls)
    assert row["manifest_heads"] == 1


async def test_every_consumer_records_the_registry_instances_it_sees(store_url: str) -> None:
    def event(instance: str, addr: str = "registry:5000") -> Event:
        raw = {
            "id": instance,
            "action": "pull",
            "target": {"repository": "r"},
            "source": {"addr": addr, "instanceID": instance},
        }
        return Event.from_raw(raw)

    engine = create_engine(store_url, writer=True)
    try:
        for batch in (
            [(event("a"), T0), (event("a"), T0 + timedelta(seconds=5))],
            [(event("b"), T0 + timedelta(minutes=1))],
        ):
            async with engine.begin() as connection:
                await record_instances(connection, instance_rows(batch, T0))
        async with engine.connect() as connection:
            found = await instances_after(connection, 0)
    finally:
        await engine.dispose()
    assert [(r["instance_id"], r["restart"]) for r in found] == [("a", False), ("b", True)]
    assert (
        instance_rows(
            [(Event.from_raw({"id": "x", "action": "push", "target": {"repository": "r"}}), T0)], T0
        )
        == []
    )
