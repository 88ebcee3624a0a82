"""The ``pushes`` buckets: one additive upsert per batch.

The push handler sums a batch per (minute, repository, kind) first; the runner drops
redelivered event ids before the handler sees them and records the new ids in the same
transaction, so adding is idempotent per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.store.tables import pushes
from consumers.store.writes import execute_many, insert_for, later


class PushCountRow(TypedDict):
    minute: datetime
    repository: str
    kind: str  # "manifest" or "blob"
    count: int
    bytes: int
    last_pushed_at: datetime


async def add_push_counts(connection: AsyncConnection, rows: Sequence[PushCountRow]) -> None:
    if not rows:
        return
    statement = insert_for(connection, pushes)
    new, old = statement.excluded, pushes.c
    statement = statement.on_conflict_do_update(
        index_elements=["minute", "repository", "kind"],
        set_={
            "count": old["count"] + new["count"],
            "bytes": old.bytes + new.bytes,
            "last_pushed_at": later(new.last_pushed_at, old.last_pushed_at),
        },
    )
    await execute_many(connection, statement, rows)
