"""Inventory upserts shared by the ``push`` and ``other`` handlers (a mount adds a blob
and may be the first sight of a repository). Rows are aggregated per key by the caller;
every upsert is one ``executemany`` and is safe to replay in any order: times keep
the earliest/latest, and the latest write wins. An event newer than a repository's
removal (seen by the reconcile) makes it live again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

from sqlalchemy import and_, case, func, null
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.store.tables import repositories, repository_blobs
from consumers.store.writes import earlier, execute_many, insert_for, later, when_newer


class RepositoryRow(TypedDict):
    name: str
    first_seen_at: datetime
    last_event_at: datetime
    last_pushed_at: datetime | None
    last_pushed_by: str | None
    source: str


class BlobRow(TypedDict):
    repository: str
    digest: str
    media_type: str | None
    size: int | None
    first_seen_at: datetime
    last_seen_at: datetime
    source: str
    mounted_from: str | None
    deleted_at: datetime | None
    deleted_by: str | None


async def upsert_repositories(connection: AsyncConnection, rows: Sequence[RepositoryRow]) -> None:
    if not rows:
        return
    t = repositories.c
    statement = insert_for(connection, repositories)
    new = statement.excluded
    revived = and_(t.deleted_at.is_not(None), new.last_event_at > t.deleted_at)
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={
            "deleted_at": case((revived, null()), else_=t.deleted_at),
            "first_seen_at": earlier(new.first_seen_at, t.first_seen_at),
            "last_event_at": later(new.last_event_at, t.last_event_at),
            "last_pushed_by": when_newer(
                new.last_pushed_at, t.last_pushed_at, new.last_pushed_by, t.last_pushed_by
            ),
            "last_pushed_at": later(new.last_pushed_at, t.last_pushed_at),
            "source": when_newer(new.last_event_at, t.last_event_at, new.source, t.source),
        },
    )
    await execute_many(connection, statement, rows)


async def upsert_blobs(connection: AsyncConnection, rows: Sequence[BlobRow]) -> None:
    """Blob storage per repository; a blob seen again after its delete is live again."""
    if not rows:
        return
    t = repository_blobs.c
    statement = insert_for(connection, repository_blobs)
    new = statement.excluded
    revived = and_(t.deleted_at.is_not(None), new.last_seen_at > t.deleted_at)
    statement = statement.on_conflict_do_update(
        index_elements=["repository", "digest"],
        set_={
            "media_type": func.coalesce(new.media_type, t.media_type),
            "size": func.coalesce(new.size, t.size),
            "first_seen_at": earlier(new.first_seen_at, t.first_seen_at),
            "last_seen_at": later(new.last_seen_at, t.last_seen_at),
            "mounted_from": func.coalesce(t.mounted_from, new.mounted_from),
            "deleted_at": case((revived, null()), else_=t.deleted_at),
            "deleted_by": case((revived, null()), else_=t.deleted_by),
        },
    )
    await execute_many(connection, statement, rows)
