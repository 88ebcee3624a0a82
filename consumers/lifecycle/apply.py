"""Applying a plan: :func:`apply_plan` deletes exactly the planned manifests through the
registry's API (``DELETE /v2/<name>/manifests/<digest>``), one at a time, in the plan's
order (parents first), at the client's request-rate limit (``docs/lifecycle.md``,
"cleanup plan and apply").

Before each delete it re-checks, and skips (with the reason, one log line) anything that
changed since the plan:

1. the store: the manifest was pushed again after the plan's ``last_pushed_at``, or a
   live tag the plan did not list now points at it;
2. the registry: ``HEAD`` by digest; a 404 means already gone (counted, not an error,
   so a rerun after an interruption deletes nothing twice); then ``HEAD`` of each planned
   tag: it must still resolve to the digest.

A 405 (deletes disabled, distribution's default) stops at once: nothing after it is
tried, and the summary says what was deleted before. So does a registry that cannot be
reached or refuses the credentials, and a store that cannot be read (no re-check, no
delete). A 403 or another unexpected answer fails that entry and the apply goes on. One
log line per entry; :class:`ApplySummary` is the end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from consumers.lifecycle.plan import Deletion, Plan
from consumers.registry_api import (
    CredentialsRefused,
    NotFound,
    RegistryClient,
    RegistryError,
    RegistryUnreachable,
    UnexpectedAnswer,
)
from consumers.store.tables import manifests, tags

log = logging.getLogger("consumers.lifecycle.apply")
DELETED, ALREADY_GONE, SKIPPED, FAILED = "deleted", "already_gone", "skipped", "failed"
DELETES_DISABLED = (
    "the registry refuses deletes (405 Method Not Allowed): enable them with `storage: delete: "
    "enabled: true` in its config.yml (or REGISTRY_STORAGE_DELETE_ENABLED=true) and restart it"
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one planned deletion; ``done`` of ``total`` entries handled so far."""

    repository: str
    digest: str
    result: str  # deleted, already_gone, skipped, failed
    reason: str
    done: int
    total: int


@dataclass
class ApplySummary:
    """Counts so far; filled while the apply runs, so an interrupted one still reports."""

    planned: int
    deleted: int = 0
    already_gone: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    bytes_freed_planned: int = 0  # the plan's figure for the manifests deleted now
    stopped: str | None = None  # why the apply ended before the plan's end

    @property
    def status(self) -> str:
        if self.stopped is not None:
            return "stopped"
        return "failed" if self.failed else "ok"

    def line(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "planned": self.planned,
            "deleted": self.deleted,
            "already_gone": self.already_gone,
            "skipped": self.skipped,
            "failed": self.failed,
            "bytes_freed_planned": self.bytes_freed_planned,
            "stopped": self.stopped,
        }


class Stop(Exception):
    """Nothing further can succeed (405, the registry unreachable, credentials refused)."""


async def apply_plan(
    plan: Plan,
    client: RegistryClient,
    engine: AsyncEngine,
    *,
    on_progress: Callable[[Outcome], None] | None = None,
    summary: ApplySummary | None = None,
) -> ApplySummary:
    """Delete what ``plan`` plans, re-checking each; ``summary`` (if given) is filled in place."""
    summary = summary if summary is not None else ApplySummary(planned=len(plan.delete))
    total = len(plan.delete)
    for done, entry in enumerate(plan.delete, start=1):
        try:
            result, reason = await _one(entry, client, engine)
        except Stop as stop:
            summary.stopped = str(stop)
            log.error("cleanup stopped", extra={"fields": {**_where(entry), "error": str(stop)}})
            break
        _count(summary, entry, result, reason)
        _log(entry, result, reason)
        if on_progress is not None:
            on_progress(Outcome(entry.repository, entry.digest, result, reason, done, total))
    return summary


def _count(summary: ApplySummary, entry: Deletion, result: str, reason: str) -> None:
    if result == DELETED:
        summary.deleted += 1
        summary.bytes_freed_planned += entry.bytes_freed
    elif result == ALREADY_GONE:
        summary.already_gone += 1
    elif result == SKIPPED:
        summary.skipped.append({**_where(entry), "reason": reason})
    else:
        summary.failed.append({**_where(entry), "error": reason})


def _where(entry: Deletion) -> dict[str, str]:
    return {"repository": entry.repository, "digest": entry.digest}


def _log(entry: Deletion, result: str, reason: str) -> None:
    fields: dict[str, Any] = {**_where(entry), "result": result, "tags": list(entry.tags)}
    if result == DELETED:
        fields["bytes_freed_planned"] = entry.bytes_freed
    else:
        fields["reason"] = reason
    level = logging.WARNING if result == FAILED else logging.INFO
    log.log(level, f"cleanup: {result.replace('_', ' ')}", extra={"fields": fields})


async def _one(entry: Deletion, client: RegistryClient, engine: AsyncEngine) -> tuple[str, str]:
    try:
        changed = await store_change(engine, entry)
    except (SQLAlchemyError, OSError) as exc:  # nothing is deleted without the store's re-check
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Stop(f"the store cannot be read: {first[:300]}") from None
    if changed:
        return SKIPPED, changed
    try:
        return await _checked_delete(entry, client)
    except (CredentialsRefused, RegistryUnreachable) as exc:
        raise Stop(str(exc)) from None
    except UnexpectedAnswer as exc:
        if exc.status == 405:
            raise Stop(DELETES_DISABLED) from None
        return FAILED, str(exc)
    except RegistryError as exc:  # AccessDenied, BadContent: this entry only
        return FAILED, f"{type(exc).__name__}: {exc}"


async def _checked_delete(entry: Deletion, client: RegistryClient) -> tuple[str, str]:
    if await client.head_manifest(entry.repository, entry.digest) is None:
        return ALREADY_GONE, "the registry has no such manifest"
    for tag in entry.tags:
        found = await client.head_manifest(entry.repository, tag)
        if found is None:
            return SKIPPED, f"tag {tag} no longer exists"
        if found.digest != entry.digest:
            return SKIPPED, f"tag {tag} now points at {found.digest}"
    try:
        await client.delete_manifest(entry.repository, entry.digest)
    except NotFound:
        return ALREADY_GONE, "the registry has no such manifest"
    return DELETED, ""


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def store_change(engine: AsyncEngine, entry: Deletion) -> str | None:
    """What the store knows changed about ``entry`` since the plan, or None."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(manifests.c.last_pushed_at, manifests.c.deleted_at).where(
                    and_(manifests.c.repository == entry.repository, manifests.c.digest == entry.digest)
                )
            )
        ).first()
        live = await connection.execute(
            select(tags.c.tag).where(
                and_(
                    tags.c.repository == entry.repository,
                    tags.c.digest == entry.digest,
                    tags.c.deleted_at.is_(None),
                )
            )
        )
        new_tags = sorted(set(live.scalars()) - set(entry.tags))
    if row is not None and row.deleted_at is None and _utc(row.last_pushed_at) > _utc(entry.last_pushed_at):
        return f"pushed again at {_utc(row.last_pushed_at).isoformat()}, after the plan"
    if new_tags:
        return f"tag {', '.join(new_tags)} now points at it"
    return None
