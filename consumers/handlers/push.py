"""``push``: the inventory. Reads ``<prefix>.push``.

* a blob push (mediaType ``application/octet-stream``) → ``repository_blobs``
  (source ``push``);
* a manifest push (image, OCI index, manifest list) → ``manifests``; with a tag, also
  ``tags`` (tag → digest, updated at/by) and, when the tag moves to another digest,
  ``tag_history`` (:mod:`consumers.store.tag_history`). The registry notifies a tagged
  push before it writes the tag (distribution#2625): readers should resolve by digest;
* every push → ``repositories`` (first seen, last event, last push and pusher, the
  source kind), and one more in the ``pushes`` bucket of its minute, repository and kind
  (manifest or blob), with its size: the exact pushes per minute, re-pushes included.

Registries that report a tag but no digest (Quay, Docker Hub, Nexus) give a ``tags`` row
whose digest is NULL, and no ``manifests`` row; every other registry's push is a manifest
push (they report artifacts, never blobs).

A batch is aggregated per key before it is written: one upsert per table per batch.
A push newer than a manifest or tag delete makes it live again.

It also reads ``<prefix>.reconcile`` and applies the observations of what is present
(:mod:`consumers.handlers.observed`): never counted as pushes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, null
from sqlalchemy.ext.asyncio import AsyncConnection

from common.contract import DISTRIBUTION
from consumers.handlers.base import Delivery, HandlerError, HandlerOptions, minute_of
from consumers.handlers.observed import ObservedPlan, apply_observations, observed_plan
from consumers.store.inventory import BlobRow, RepositoryRow, upsert_blobs, upsert_repositories
from consumers.store.push_counts import PushCountRow, add_push_counts
from consumers.store.tables import manifests, tags
from consumers.store.tag_history import TagChange, record_tag_changes
from consumers.store.writes import earlier, execute_many, insert_for, later, when_newer


@dataclass(frozen=True, slots=True)
class PushPlan:
    repository: str
    digest: str | None
    media_type: str | None
    size: int | None
    tag: str | None
    is_manifest: bool
    at: datetime
    actor: str | None
    source: str = DISTRIBUTION


class PushHandler:
    name = "push"

    def __init__(self, options: HandlerOptions | None = None) -> None:
        """``options``: none apply to this handler (see :data:`consumers.handlers.HANDLERS`)."""

    def plan(self, delivery: Delivery) -> PushPlan | ObservedPlan:
        if delivery.is_observation:
            return observed_plan(delivery)
        event = delivery.event
        if event.action != "push":
            raise HandlerError(f"the push handler got a {event.action!r} event")
        if not event.digest and (event.source_kind == DISTRIBUTION or not event.tag):
            raise HandlerError("push event without target.digest")
        return PushPlan(
            repository=event.repository,
            digest=event.digest,
            media_type=event.media_type,
            size=event.size,
            tag=event.tag,
            is_manifest=event.is_manifest,
            at=delivery.occurred_at,
            actor=event.actor,
            source=event.source_kind,
        )

    async def apply(self, plans: Sequence[PushPlan | ObservedPlan], connection: AsyncConnection) -> None:
        observed = [p for p in plans if isinstance(p, ObservedPlan)]
        await self._pushes(
            sorted((p for p in plans if isinstance(p, PushPlan)), key=lambda p: p.at), connection
        )
        await apply_observations(
            connection, observed, present=True, now=datetime.now(UTC).replace(tzinfo=None)
        )

    async def _pushes(self, plans: Sequence[PushPlan], connection: AsyncConnection) -> None:
        """``plans`` oldest first: the row builders take the last as latest."""
        await upsert_repositories(connection, repository_rows(plans))
        await upsert_blobs(connection, blob_rows([p for p in plans if not p.is_manifest and p.digest]))
        manifest_plans = [p for p in plans if p.is_manifest]
        await _upsert_manifests(connection, manifest_rows([p for p in manifest_plans if p.digest]))
        tagged = [p for p in manifest_plans if p.tag]
        await record_tag_changes(
            connection, [TagChange(p.repository, p.tag or "", p.at, p.actor, p.digest) for p in tagged]
        )
        await _upsert_tags(connection, tag_rows(tagged))
        await add_push_counts(connection, push_count_rows(plans))


def _oldest_first(plans: Sequence[PushPlan], key: Any) -> dict[Any, list[PushPlan]]:
    """``plans`` (oldest first) grouped by ``key``; ``group[-1]`` is the latest."""
    grouped: dict[Any, list[PushPlan]] = {}
    for plan in plans:
        grouped.setdefault(key(plan), []).append(plan)
    return grouped


def repository_rows(plans: Sequence[PushPlan]) -> list[RepositoryRow]:
    return [
        RepositoryRow(
            name=name,
            first_seen_at=group[0].at,
            last_event_at=group[-1].at,
            last_pushed_at=group[-1].at,
            last_pushed_by=group[-1].actor,
            source=group[-1].source,
        )
        for name, group in _oldest_first(plans, lambda p: p.repository).items()
    ]


def blob_rows(plans: Sequence[PushPlan]) -> list[BlobRow]:
    return [
        BlobRow(
            repository=repository,
            digest=digest or "",
            media_type=group[-1].media_type,
            size=group[-1].size,
            first_seen_at=group[0].at,
            last_seen_at=group[-1].at,
            source="push",
            mounted_from=None,
            deleted_at=None,
            deleted_by=None,
        )
        for (repository, digest), group in _oldest_first(plans, lambda p: (p.repository, p.digest)).items()
    ]


def manifest_rows(plans: Sequence[PushPlan]) -> list[dict[str, Any]]:
    return [
        {
            "repository": repository,
            "digest": digest,
            "media_type": group[-1].media_type,
            "size": group[-1].size,
            "first_pushed_at": group[0].at,
            "last_pushed_at": group[-1].at,
            "pushed_by": group[-1].actor,
            "push_count": len(group),
            "deleted_at": None,
            "deleted_by": None,
        }
        for (repository, digest), group in _oldest_first(plans, lambda p: (p.repository, p.digest)).items()
    ]


def tag_rows(plans: Sequence[PushPlan]) -> list[dict[str, Any]]:
    return [
        {
            "repository": repository,
            "tag": tag,
            "digest": group[-1].digest,
            "updated_at": group[-1].at,
            "updated_by": group[-1].actor,
            "deleted_at": None,
            "deleted_by": None,
        }
        for (repository, tag), group in _oldest_first(plans, lambda p: (p.repository, p.tag)).items()
    ]


def push_count_rows(plans: Sequence[PushPlan]) -> list[PushCountRow]:
    """One row per (minute, repository, kind) of the batch, every push counted."""
    rows: dict[tuple[datetime, str, str], PushCountRow] = {}
    for plan in plans:
        key = (minute_of(plan.at), plan.repository, "manifest" if plan.is_manifest else "blob")
        row = rows.get(key)
        if row is None:
            row = rows[key] = PushCountRow(
                minute=key[0], repository=key[1], kind=key[2], count=0, bytes=0, last_pushed_at=plan.at
            )
        row["count"] += 1
        row["bytes"] += plan.size or 0
        row["last_pushed_at"] = max(row["last_pushed_at"], plan.at)
    return list(rows.values())


async def _upsert_manifests(connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    t = manifests.c
    statement = insert_for(connection, manifests)
    new = statement.excluded
    revived = and_(t.deleted_at.is_not(None), new.last_pushed_at > t.deleted_at)
    statement = statement.on_conflict_do_update(
        index_elements=["repository", "digest"],
        set_={
            "media_type": when_newer(new.last_pushed_at, t.last_pushed_at, new.media_type, t.media_type),
            "size": when_newer(new.last_pushed_at, t.last_pushed_at, new.size, t.size),
            "pushed_by": when_newer(new.last_pushed_at, t.last_pushed_at, new.pushed_by, t.pushed_by),
            "first_pushed_at": earlier(new.first_pushed_at, t.first_pushed_at),
            "last_pushed_at": later(new.last_pushed_at, t.last_pushed_at),
            "push_count": t.push_count + new.push_count,
            "deleted_at": case((revived, null()), else_=t.deleted_at),
            "deleted_by": case((revived, null()), else_=t.deleted_by),
        },
    )
    await execute_many(connection, statement, rows)


async def _upsert_tags(connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    t = tags.c
    statement = insert_for(connection, tags)
    new = statement.excluded
    newer = new.updated_at >= t.updated_at
    statement = statement.on_conflict_do_update(
        index_elements=["repository", "tag"],
        set_={
            "digest": case((newer, new.digest), else_=t.digest),
            "updated_by": case((newer, new.updated_by), else_=t.updated_by),
            "deleted_at": case((newer, null()), else_=t.deleted_at),
            "deleted_by": case((newer, null()), else_=t.deleted_by),
            "updated_at": later(new.updated_at, t.updated_at),
        },
    )
    await execute_many(connection, statement, rows)
