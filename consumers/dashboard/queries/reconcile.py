"""Reconcile passes and their repairs (``reconcile_passes``, and the ``audit_log`` rows with
action ``reconcile``, whose ``request_id`` is the pass)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.dashboard.pagination import PageRequest
from consumers.dashboard.params import as_utc, iso
from consumers.store.tables import audit_log, reconcile_passes

_PASS_TIMES = ("started_at", "finished_at")


def pass_json(mapping: Any) -> dict[str, Any]:
    row = dict(mapping)
    for key in _PASS_TIMES:
        row[key] = iso(as_utc(row[key])) if row[key] is not None else None
    row["repairs_total"] = sum(int(n) for n in (row.get("repairs") or {}).values())
    return row


async def passes(conn: AsyncConnection, page: PageRequest, status: str | None = None) -> list[dict[str, Any]]:
    """Newest first."""
    p = reconcile_passes.c
    query = select(reconcile_passes)
    if status is not None:
        query = query.where(p.status == status)
    query = query.order_by(p.started_at.desc(), p.id).limit(page.fetch).offset(page.offset)
    return [pass_json(row) for row in (await conn.execute(query)).mappings()]


async def latest(conn: AsyncConnection, *, finished: bool) -> dict[str, Any] | None:
    """The newest pass that ended (``finished``) or that is still running."""
    p = reconcile_passes.c
    query = select(reconcile_passes)
    query = query.where(p.status != "running") if finished else query.where(p.status == "running")
    row = (await conn.execute(query.order_by(p.started_at.desc()).limit(1))).mappings().first()
    return pass_json(row) if row is not None else None


async def repairs(conn: AsyncConnection, pass_id: str, page: PageRequest) -> list[dict[str, Any]]:
    """The repairs the consumers made for one pass, oldest first."""
    a = audit_log.c
    query = (
        select(a.occurred_at, a.recorded_at, a.kind, a.repository, a.tag, a.digest, a.raw)
        .where(a.action == "reconcile", a.request_id == pass_id)
        .order_by(a.id)
        .limit(page.fetch)
        .offset(page.offset)
    )
    found = []
    for row in (await conn.execute(query)).mappings():
        raw = row["raw"] if isinstance(row["raw"], dict) else {}
        repair = raw.get("repair")
        repair = repair if isinstance(repair, dict) else {}
        found.append(
            {
                "time": iso(as_utc(row["occurred_at"])),
                "recorded_at": iso(as_utc(row["recorded_at"])),
                "kind": row["kind"],
                "repository": row["repository"],
                "tag": row["tag"],
                "digest": row["digest"],
                "previous_digest": repair.get("previous_digest"),
            }
        )
    return found
