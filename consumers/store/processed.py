"""Idempotency by event id: the ``processed_events`` table.

The runner calls :func:`claim` first in each batch's transaction: one
``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING event_id`` records the
batch's ids and returns those not recorded before; the handler then stores only those.
The transaction commits both together, so a redelivered record (after a crash, a
rebalance or a registry retry) is never counted twice, and a rolled-back batch claims
nothing. The primary key (handler, event_id) holds even if two members race.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import orjson
from sqlalchemy import DateTime, bindparam, delete, text
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.store.tables import processed_events as pe

_CLAIM = {
    # One statement per batch, whatever its size: the ids travel as ONE parameter (a JSON
    # array on SQLite, a text[] on PostgreSQL), which is far cheaper than a row each.
    "sqlite": "INSERT INTO processed_events (handler, event_id, processed_at) "
    "SELECT :handler, value, :at FROM json_each(:ids) WHERE true "
    "ON CONFLICT (handler, event_id) DO NOTHING RETURNING event_id",
    "postgresql": "INSERT INTO processed_events (handler, event_id, processed_at) "
    "SELECT :handler, x, :at FROM unnest(CAST(:ids AS TEXT[])) AS x "
    "ON CONFLICT (handler, event_id) DO NOTHING RETURNING event_id",
}


async def claim(
    connection: AsyncConnection, handler: str, event_ids: Sequence[str], processed_at: datetime
) -> set[str]:
    """Record ``event_ids`` for ``handler``; returns the ids that were new."""
    unique = list(dict.fromkeys(event_ids))
    if not unique:
        return set()
    dialect = connection.dialect.name
    ids: str | list[str] = orjson.dumps(unique).decode() if dialect == "sqlite" else unique
    statement = text(_CLAIM[dialect]).bindparams(bindparam("at", type_=DateTime()))
    result = await connection.execute(statement, {"handler": handler, "at": processed_at, "ids": ids})
    return {str(event_id) for event_id in result.scalars()}


async def forget_before(connection: AsyncConnection, handler: str, before: datetime) -> int:
    """Drop ids recorded before ``before`` (retention); returns how many went."""
    result = await connection.execute(delete(pe).where(pe.c.handler == handler, pe.c.processed_at < before))
    return int(result.rowcount)
