"""Idempotency by event id: the ``processed_events`` table.

The runner checks a batch's ids with :func:`already_processed` and records the new ones
with :func:`remember` in the same transaction as the handler's writes, so a redelivered
record (after a crash, a rebalance or a registry retry) is never counted twice. The
primary key backs this up if two members ever race on one partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.store.tables import processed_events as pe
from consumers.store.writes import chunks


async def already_processed(connection: AsyncConnection, handler: str, event_ids: Sequence[str]) -> set[str]:
    """The ids among ``event_ids`` this handler has persisted before."""
    found: set[str] = set()
    for part in chunks(sorted(set(event_ids))):
        query = select(pe.c.event_id).where(pe.c.handler == handler, pe.c.event_id.in_(part))
        found.update((await connection.execute(query)).scalars())
    return found


async def remember(
    connection: AsyncConnection, handler: str, event_ids: Sequence[str], processed_at: datetime
) -> None:
    rows = [
        {"handler": handler, "event_id": event_id, "processed_at": processed_at} for event_id in event_ids
    ]
    for part in chunks(rows):
        await connection.execute(insert(pe), list(part))


async def forget_before(connection: AsyncConnection, handler: str, before: datetime) -> int:
    """Drop ids recorded before ``before`` (retention); returns how many went."""
    result = await connection.execute(delete(pe).where(pe.c.handler == handler, pe.c.processed_at < before))
    return int(result.rowcount)
