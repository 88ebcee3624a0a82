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
* either way, the ``tag_history`` period of every tag that ends is closed
  (:mod:`consumers.store.tag_history`);
* ``blob``: a delete by digest that matches no manifest; the ``repository_blobs`` row
  is marked deleted;
* ``mount``: the blob is added to the target repository (``repository_blobs``, source
  ``mount``, ``mounted_from``);
* ``other``: any other action, recorded only.

Other registries (``source.kind`` set) report artifacts, never blobs: a delete by digest
is a ``manifest`` delete whether or not the manifest is stored. Where a sender's delete
removes the whole artifact although it names a tag (Harbor: ``SourceFacts.artifact_deletes``),
the tag is tombstoned and the manifest with every tag on it deleted too (kind ``manifest``).

A batch is applied with a fixed number of statements: mounts first (one upsert), then
deletes (one statement per kind), then the audit rows. That equals applying them in
order because every delete is guarded by time: a delete older than the last push or
mount of its manifest, tag or blob does not delete it.

It also reads ``<prefix>.reconcile`` and applies the observations of what is absent
(:mod:`consumers.handlers.observed`), each repair one ``reconcile`` audit row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from common.contract import DISTRIBUTION, SOURCES, Event
from consumers.handlers.base import Delivery, HandlerOptions
from consumers.handlers.observed import ObservedPlan, apply_observations, observed_plan
from consumers.store.inventory import BlobRow, RepositoryRow, upsert_blobs, upsert_repositories
from consumers.store.tables import audit_log, manifests, repository_blobs, tags
from consumers.store.tag_history import TagChange, record_tag_changes, tags_pointing_at
from consumers.store.writes import chunks, execute_many, insert_for


@dataclass(frozen=True, slots=True)
class OtherPlan:
    event: Event
    at: datetime

    @property
    def key(self) -> tuple[str, str | None]:
        return self.event.repository, self.event.digest


class OtherHandler:
    name = "other"

    def __init__(self, options: HandlerOptions | None = None) -> None:
        """``options``: none apply to this handler (see :data:`consumers.handlers.HANDLERS`)."""

    def plan(self, delivery: Delivery) -> OtherPlan | ObservedPlan:
        if delivery.is_observation:
            return observed_plan(delivery)
        return OtherPlan(delivery.event, delivery.occurred_at)

    async def apply(self, plans: Sequence[OtherPlan | ObservedPlan], connection: AsyncConnection) -> None:
        now = datetime.now(UTC).replace(tzinfo=None)
        await self._events([p for p in plans if isinstance(p, OtherPlan)], connection, now)
        observed = [p for p in plans if isinstance(p, ObservedPlan)]
        await apply_observations(connection, observed, present=False, now=now)

    async def _events(self, plans: Sequence[OtherPlan], connection: AsyncConnection, now: datetime) -> None:
        mounts = [p for p in plans if p.event.action == "mount" and p.event.digest]
        deletes = [p for p in plans if p.event.action == "delete"]
        tag_deletes = [p for p in deletes if p.event.tag]
        digest_deletes = [p for p in deletes if removes_manifest(p.event)]
        await _mount(connection, mounts)
        known = await _known_manifests(connection, digest_deletes)
        manifest_deletes = [p for p in digest_deletes if not is_blob(p, known)]
        await _end_tag_periods(connection, tag_deletes, manifest_deletes)
        await _delete_tags(connection, tag_deletes)
        await _delete_manifests(connection, manifest_deletes)
        await _delete_blobs(connection, [p for p in digest_deletes if is_blob(p, known)])
        rows = [audit_row(plan, kind_of(plan, known), now) for plan in plans]
        statement = insert_for(connection, audit_log).on_conflict_do_nothing(index_elements=["event_id"])
        await execute_many(connection, statement, rows)


def removes_manifest(event: Event) -> bool:
    """A delete of the manifest by its digest: one naming no tag, or one from a sender
    whose deletes remove the whole artifact."""
    if not event.digest:
        return False
    facts = SOURCES.get(event.source_kind)
    return not event.tag or (facts is not None and facts.artifact_deletes)


def is_blob(plan: OtherPlan, known_manifests: set[tuple[str, str | None]]) -> bool:
    """A digest delete of distribution's that names no stored manifest is a blob delete
    (other registries report no blobs)."""
    return plan.event.source_kind == DISTRIBUTION and plan.key not in known_manifests


def kind_of(plan: OtherPlan, known_manifests: set[tuple[str, str | None]]) -> str:
    event = plan.event
    if event.action == "mount":
        return "mount"
    if event.action != "delete":
        return "other"
    if removes_manifest(event):
        return "blob" if is_blob(plan, known_manifests) else "manifest"
    return "tag" if event.tag else "other"


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


async def _known_manifests(
    connection: AsyncConnection, plans: Sequence[OtherPlan]
) -> set[tuple[str, str | None]]:
    """Which (repository, digest) of these deletes name a stored manifest."""
    pairs = sorted({plan.key for plan in plans}, key=str)
    found: set[tuple[str, str | None]] = set()
    m = manifests.c
    for part in chunks(pairs, 500):
        query = select(m.repository, m.digest).where(tuple_(m.repository, m.digest).in_(part))
        found.update((str(r), str(d)) for r, d in await connection.execute(query))
    return found


async def _end_tag_periods(
    connection: AsyncConnection, tag_deletes: Sequence[OtherPlan], manifest_deletes: Sequence[OtherPlan]
) -> None:
    """``tag_history``: the deleted tags end, and so does every live tag pointing at a
    deleted manifest (before ``tags`` is written, see :mod:`consumers.store.tag_history`)."""
    pointing = await tags_pointing_at(
        connection, [(p.event.repository, p.event.digest or "") for p in manifest_deletes]
    )
    ends = [
        TagChange(p.event.repository, p.event.tag or "", p.at, p.event.actor, present=False)
        for p in tag_deletes
    ]
    for plan in manifest_deletes:
        for tag in pointing.get((plan.event.repository, plan.event.digest or ""), []):
            ends.append(TagChange(plan.event.repository, tag, plan.at, plan.event.actor, present=False))
    await record_tag_changes(connection, ends)


async def _delete_tags(connection: AsyncConnection, plans: Sequence[OtherPlan]) -> None:
    """Tombstones: inserted when the tag is unknown, else set unless a newer push won."""
    latest = {(p.event.repository, p.event.tag): p for p in sorted(plans, key=lambda p: p.at)}
    rows = [
        {
            "repository": plan.event.repository,
            "tag": plan.event.tag,
            "digest": None,
            "updated_at": plan.at,
            "updated_by": plan.event.actor,
            "deleted_at": plan.at,
            "deleted_by": plan.event.actor,
        }
        for plan in latest.values()
    ]
    if not rows:
        return
    t = tags.c
    statement = insert_for(connection, tags)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["repository", "tag"],
        set_={"deleted_at": new.deleted_at, "deleted_by": new.deleted_by, "updated_at": new.updated_at},
        where=new.updated_at >= t.updated_at,
    )
    await execute_many(connection, statement, rows)


def _gone_rows(plans: Sequence[OtherPlan]) -> list[dict[str, Any]]:
    return [
        {"b_repository": p.event.repository, "b_digest": p.event.digest, "b_at": p.at, "b_by": p.event.actor}
        for p in plans
    ]


async def _delete_manifests(connection: AsyncConnection, plans: Sequence[OtherPlan]) -> None:
    """The manifest and the live tags pointing at it are marked deleted."""
    rows = _gone_rows(plans)
    if not rows:
        return
    m, t = manifests.c, tags.c
    gone: dict[str, Any] = {"deleted_at": bindparam("b_at"), "deleted_by": bindparam("b_by")}
    await connection.execute(
        update(manifests)
        .where(
            m.repository == bindparam("b_repository"),
            m.digest == bindparam("b_digest"),
            m.last_pushed_at <= bindparam("b_at"),
        )
        .values(gone),
        rows,
    )
    await connection.execute(
        update(tags)
        .where(
            t.repository == bindparam("b_repository"),
            t.digest == bindparam("b_digest"),
            t.deleted_at.is_(None),
            t.updated_at <= bindparam("b_at"),
        )
        .values(gone),
        rows,
    )


async def _delete_blobs(connection: AsyncConnection, plans: Sequence[OtherPlan]) -> None:
    rows = _gone_rows(plans)
    if not rows:
        return
    b = repository_blobs.c
    await connection.execute(
        update(repository_blobs)
        .where(
            b.repository == bindparam("b_repository"),
            b.digest == bindparam("b_digest"),
            b.last_seen_at <= bindparam("b_at"),
        )
        .values(deleted_at=bindparam("b_at"), deleted_by=bindparam("b_by")),
        rows,
    )


async def _mount(connection: AsyncConnection, plans: Sequence[OtherPlan]) -> None:
    """Mounted blobs join the target repository (source ``mount``)."""
    repositories: dict[str, RepositoryRow] = {}
    blobs: dict[tuple[str, str | None], BlobRow] = {}
    for plan in sorted(plans, key=lambda p: p.at):
        event, at = plan.event, plan.at
        repo = repositories.setdefault(
            event.repository,
            RepositoryRow(
                name=event.repository,
                first_seen_at=at,
                last_event_at=at,
                last_pushed_at=None,
                last_pushed_by=None,
                source=event.source_kind,
            ),
        )
        repo["last_event_at"] = at
        blob = blobs.get(plan.key)
        if blob is None:
            blobs[plan.key] = BlobRow(
                repository=event.repository,
                digest=event.digest or "",
                media_type=event.media_type,
                size=event.size,
                first_seen_at=at,
                last_seen_at=at,
                source="mount",
                mounted_from=event.from_repository,
                deleted_at=None,
                deleted_by=None,
            )
        else:
            blob["last_seen_at"] = at
    await upsert_repositories(connection, list(repositories.values()))
    await upsert_blobs(connection, list(blobs.values()))
