"""``other``: the audit trail, plus deletes and mounts applied to the inventory. Reads
``<prefix>.other`` (every action but push and pull: delete, mount, GitLab's rename,
anything unknown).

Every event becomes one ``audit_log`` row (actor, address, user agent, time, the raw
event) whose ``kind`` says what it was:

* ``tag``: a delete with a tag. The tag is removed: its ``tags`` row gets
  ``deleted_at``/``deleted_by`` (a tombstone, so that an older push processed later by the
  push consumer cannot bring it back);
* ``manifest``: a delete by digest that matches a manifest of the repository. Delete
  events carry no media type, so a manifest delete looks like a blob delete: the digest
  is matched against ``manifests``. The manifest and the tags pointing at it are marked
  deleted;
* ``blob``: a delete by digest that matches no manifest; the ``repository_blobs`` row
  is marked deleted;
* ``mount``: the blob is added to the target repository (``repository_blobs``, source
  ``mount``, ``mounted_from``);
* ``other``: any other action, recorded only.

Deletes and mounts are applied in offset order, a few statements each (they are rare);
a delete older than the last push of its manifest, tag or blob does not delete it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.contract import Event
from consumers.handlers.base import Delivery
from consumers.store.inventory import BlobRow, RepositoryRow, upsert_blobs, upsert_repositories
from consumers.store.tables import audit_log, manifests, repository_blobs, tags
from consumers.store.writes import chunks, insert_for


@dataclass(frozen=True, slots=True)
class OtherPlan:
    event: Event
    at: datetime


class OtherHandler:
    name = "other"

    def plan(self, delivery: Delivery) -> OtherPlan:
        return OtherPlan(delivery.event, delivery.occurred_at)

    async def apply(self, plans: Sequence[OtherPlan], connection: AsyncConnection) -> None:
        kinds = [await _apply_one(connection, plan) for plan in plans]
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = [audit_row(plan, kind, now) for plan, kind in zip(plans, kinds, strict=True)]
        statement = insert_for(connection, audit_log).on_conflict_do_nothing(index_elements=["event_id"])
        for part in chunks(rows):
            await connection.execute(statement, list(part))


def audit_row(plan: OtherPlan, kind: str, recorded_at: datetime) -> dict[str, Any]:
    event = plan.event
    return {
        "event_id": event.id,
        "occurred_at": plan.at,
        "recorded_at": recorded_at,
        "action": event.action,
        "kind": kind,
        "repository": event.repository,
        "tag": event.tag,
        "digest": event.digest,
        "from_repository": event.from_repository,
        "actor": event.actor,
        "addr": event.addr,
        "useragent": event.useragent,
        "method": event.method,
        "request_id": event.request_id,
        "raw": dict(event.raw),
    }


async def _apply_one(connection: AsyncConnection, plan: OtherPlan) -> str:
    event = plan.event
    if event.action == "mount":
        await _mount(connection, plan)
        return "mount"
    if event.action != "delete":
        return "other"
    if event.tag:
        await _delete_tag(connection, plan)
        return "tag"
    if not event.digest:
        return "other"
    if await _is_manifest(connection, event.repository, event.digest):
        await _delete_manifest(connection, plan)
        return "manifest"
    await _delete_blob(connection, plan)
    return "blob"


async def _is_manifest(connection: AsyncConnection, repository: str, digest: str) -> bool:
    query = select(manifests.c.digest).where(
        manifests.c.repository == repository, manifests.c.digest == digest
    )
    return (await connection.execute(query)).first() is not None


async def _delete_tag(connection: AsyncConnection, plan: OtherPlan) -> None:
    """A tombstone: inserted when the tag is unknown, else set unless a newer push won."""
    t = tags.c
    statement = insert_for(connection, tags)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["repository", "tag"],
        set_={"deleted_at": new.deleted_at, "deleted_by": new.deleted_by, "updated_at": new.updated_at},
        where=new.updated_at >= t.updated_at,
    )
    who = plan.event.actor
    await connection.execute(
        statement,
        {
            "repository": plan.event.repository,
            "tag": plan.event.tag,
            "digest": None,
            "updated_at": plan.at,
            "updated_by": who,
            "deleted_at": plan.at,
            "deleted_by": who,
        },
    )


async def _delete_manifest(connection: AsyncConnection, plan: OtherPlan) -> None:
    event, m, t = plan.event, manifests.c, tags.c
    gone = {"deleted_at": plan.at, "deleted_by": event.actor}
    await connection.execute(
        update(manifests)
        .where(m.repository == event.repository, m.digest == event.digest, m.last_pushed_at <= plan.at)
        .values(gone)
    )
    await connection.execute(
        update(tags)
        .where(
            and_(t.repository == event.repository, t.digest == event.digest),
            t.deleted_at.is_(None),
            t.updated_at <= plan.at,
        )
        .values(gone)
    )


async def _delete_blob(connection: AsyncConnection, plan: OtherPlan) -> None:
    event, b = plan.event, repository_blobs.c
    await connection.execute(
        update(repository_blobs)
        .where(b.repository == event.repository, b.digest == event.digest, b.last_seen_at <= plan.at)
        .values(deleted_at=plan.at, deleted_by=event.actor)
    )


async def _mount(connection: AsyncConnection, plan: OtherPlan) -> None:
    event = plan.event
    if not event.digest:
        return
    at = plan.at
    await upsert_repositories(
        connection,
        [
            RepositoryRow(
                name=event.repository,
                first_seen_at=at,
                last_event_at=at,
                last_pushed_at=None,
                last_pushed_by=None,
            )
        ],
    )
    blob = BlobRow(
        repository=event.repository,
        digest=event.digest,
        media_type=event.media_type,
        size=event.size,
        first_seen_at=at,
        last_seen_at=at,
        source="mount",
        mounted_from=event.from_repository,
        deleted_at=None,
        deleted_by=None,
    )
    await upsert_blobs(connection, [blob])
