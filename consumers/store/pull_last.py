"""``pull_last``: the latest manifest GET and HEAD per (repository, reference), one upsert
per batch. The pull handler sums the batch in memory first (:func:`last_rows`); the upsert
keeps the later time (``later``, which a NULL never wins), so the order batches arrive in
does not matter."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.store.tables import pull_last
from consumers.store.writes import execute_many, insert_for, later


class LastPullRow(TypedDict):
    repository: str
    reference: str
    last_get_at: datetime | None
    last_head_at: datetime | None


def last_rows(pulls: Iterable[tuple[str, str, bool, datetime]]) -> list[LastPullRow]:
    """(repository, reference, head, at) → one row per (repository, reference)."""
    rows: dict[tuple[str, str], LastPullRow] = {}
    for repository, reference, head, at in pulls:
        row = rows.get((repository, reference))
        if row is None:
            row = rows[(repository, reference)] = LastPullRow(
                repository=repository, reference=reference, last_get_at=None, last_head_at=None
            )
        if head:
            row["last_head_at"] = _later(at, row["last_head_at"])
        else:
            row["last_get_at"] = _later(at, row["last_get_at"])
    return list(rows.values())


def _later(at: datetime, previous: datetime | None) -> datetime:
    return at if previous is None or at > previous else previous


async def touch_last_pulls(connection: AsyncConnection, rows: list[LastPullRow]) -> None:
    if not rows:
        return
    statement = insert_for(connection, pull_last)
    new, old = statement.excluded, pull_last.c
    statement = statement.on_conflict_do_update(
        index_elements=["repository", "reference"],
        set_={
            "last_get_at": later(new.last_get_at, old.last_get_at),
            "last_head_at": later(new.last_head_at, old.last_head_at),
        },
    )
    await execute_many(connection, statement, rows)
