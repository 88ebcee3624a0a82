"""Gaps in the event stream: registry restarts, seen as a new ``source.instanceID`` for an
address that had one before (``registry_instances``). The registry's notification queue
lives in memory, so whatever was pending at a restart is lost; each restart says which
reconcile pass (the first that ended well after it) repaired the inventory since.

Pull statistics cannot be repaired: the registry's API keeps no pull history, so pulls
whose events were lost are missing for good (:data:`PULLS_NOTE`).
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.dashboard.params import as_utc, iso
from consumers.store.tables import reconcile_passes, registry_instances

LOSS_NOTE = "events pending at that moment may be lost"
PULLS_NOTE = (
    "Pull statistics cannot be reconstructed from the registry's API: pulls whose events were lost "
    "are missing from the statistics for good. The reconcile repairs the inventory only."
)
MAX_INSTANCES = 2000


def _stamp(moment: datetime | None) -> str | None:
    return iso(as_utc(moment)) if moment is not None else None


async def _first_ok_pass_after(conn: AsyncConnection, moment: datetime) -> dict[str, Any] | None:
    p = reconcile_passes.c
    query = (
        select(p.id, p.started_at, p.finished_at, p.trigger)
        .where(p.status == "ok", p.started_at >= moment)
        .order_by(p.started_at)
        .limit(1)
    )
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        return None
    return {"id": row["id"], "trigger": row["trigger"], "finished_at": _stamp(row["finished_at"])}


async def restarts(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    """Detected restarts, newest first (at most ``limit``)."""
    r = registry_instances.c
    query = select(r.addr, r.instance_id, r.first_seen_at, r.last_seen_at, r.recorded_at, r.events)
    rows = (await conn.execute(query.order_by(r.first_seen_at.desc()).limit(MAX_INSTANCES))).mappings().all()
    by_addr: dict[str, list[Any]] = {}
    for row in reversed(rows):  # oldest first
        by_addr.setdefault(row["addr"], []).append(row)
    found = []
    for addr, instances in by_addr.items():
        for previous, current in pairwise(instances):
            found.append(
                {
                    "addr": addr,
                    "instance_id": current["instance_id"],
                    "previous_instance_id": previous["instance_id"],
                    "time": _stamp(current["first_seen_at"]),
                    "previous_last_event_at": _stamp(previous["last_seen_at"]),
                    "recorded_at": _stamp(current["recorded_at"]),
                    "note": LOSS_NOTE,
                    "reconciled_by": await _first_ok_pass_after(conn, current["recorded_at"]),
                }
            )
    found.sort(key=lambda item: item["time"] or "", reverse=True)
    return found[:limit]


async def instances(conn: AsyncConnection) -> int:
    """How many registry instances were ever seen."""
    return len((await conn.execute(select(registry_instances.c.id).limit(MAX_INSTANCES))).all())
