"""Registry instances: every ``source.instanceID`` the consumers see per ``source.addr``.

The registry draws a new instance id each time it starts, and its notification queue lives
in memory: a new instance of an address that had one before means a restart, and whatever
was pending in the old one is gone. Every store consumer (push, pull, other) records the
instances of its batch in the batch's own transaction (:class:`consumers.runner.StoreSink`),
so whichever event first carries a new id, pull or push or delete, records it; the reconcile
process watches this table and starts a pass (``docs/reconcile.md``).

One upsert per batch, rows sorted by key (concurrent consumers lock in the same order).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from common.contract import Event
from consumers.store.tables import registry_instances
from consumers.store.writes import earlier, execute_many, insert_for, later


class InstanceRow(TypedDict):
    addr: str
    instance_id: str
    first_seen_at: datetime
    last_seen_at: datetime
    recorded_at: datetime
    events: int


def instance_rows(seen: Iterable[tuple[Event, datetime]], recorded_at: datetime) -> list[InstanceRow]:
    """One row per (addr, instance) among the events (each with its time); events
    without an instance id (the reconcile's observations, other registries) are left out."""
    rows: dict[tuple[str, str], InstanceRow] = {}
    for event, at in seen:
        if not event.instance_id:
            continue
        key = (event.source_addr or "", event.instance_id)
        row = rows.get(key)
        if row is None:
            rows[key] = InstanceRow(
                addr=key[0],
                instance_id=key[1],
                first_seen_at=at,
                last_seen_at=at,
                recorded_at=recorded_at,
                events=1,
            )
            continue
        row["first_seen_at"] = min(row["first_seen_at"], at)
        row["last_seen_at"] = max(row["last_seen_at"], at)
        row["events"] += 1
    return [rows[key] for key in sorted(rows)]


async def record_instances(connection: AsyncConnection, rows: list[InstanceRow]) -> None:
    if not rows:
        return
    t = registry_instances.c
    statement = insert_for(connection, registry_instances)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["addr", "instance_id"],
        set_={
            "first_seen_at": earlier(new.first_seen_at, t.first_seen_at),
            "last_seen_at": later(new.last_seen_at, t.last_seen_at),
            "events": t.events + new.events,
        },
    )
    await execute_many(connection, statement, rows)


async def newest_instance_id(connection: AsyncConnection) -> int:
    """The highest row id so far (0 for none): where a watcher starts."""
    found = (await connection.execute(select(func.max(registry_instances.c.id)))).scalar_one()
    return int(found or 0)


async def instances_after(connection: AsyncConnection, after_id: int) -> list[dict[str, Any]]:
    """Instances first recorded after row ``after_id``, oldest first, each with
    ``restart``: whether its address had an instance before."""
    t = registry_instances.c
    query = select(t.id, t.addr, t.instance_id, t.first_seen_at).where(t.id > after_id).order_by(t.id)
    rows = [dict(row) for row in (await connection.execute(query)).mappings()]
    for row in rows:
        earlier_ones = select(func.count()).where(t.addr == row["addr"], t.id < row["id"])
        row["restart"] = int((await connection.execute(earlier_ones)).scalar_one()) > 0
    return rows
