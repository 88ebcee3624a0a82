"""The inventory: repositories with their tags, manifests and stored bytes.

A repository's ``size`` is what it holds now: its live blobs (layers and configs,
pushed or mounted) plus its live manifests. ``tags`` and ``manifests`` count live rows
(``deleted_at IS NULL``). ``image_pulls_24h`` and ``pull_requests_24h`` sum the pull
buckets of the 24 hours before ``now``; ``source`` is the kind of registry the repository's
latest event came from, and ``pulls_reported`` whether that kind reports pulls at all. A
repository the reconcile saw gone from the registry's catalog (``deleted_at``) is left out of
the list and the count, and still answers by name.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Select, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from common.contract import DISTRIBUTION, SOURCES
from consumers.dashboard.pagination import PageRequest
from consumers.dashboard.params import Window, as_utc, iso
from consumers.dashboard.queries.buckets import within
from consumers.store.tables import manifests, pulls, repositories, repository_blobs, tags

SORTS = ("name", "last_push", "size", "pulls")
_TIMES = (
    "first_seen_at",
    "last_event_at",
    "last_pushed_at",
    "last_pulled_at",
    "updated_at",
    "deleted_at",
    "first_pushed_at",
)


def _scalar(query: Select[Any], name: str) -> ColumnElement[Any]:
    """A count or sum as a plain integer (PostgreSQL sums bigints as numeric)."""
    return cast(func.coalesce(query.scalar_subquery(), 0), BigInteger).label(name)


def _summary_columns(now: datetime) -> list[ColumnElement[Any]]:
    name = repositories.c.name
    day = Window(since=now - timedelta(hours=24), until=now)
    p = pulls.c
    live_tags = select(func.count()).where(tags.c.repository == name, tags.c.deleted_at.is_(None))
    live_manifests = manifests.c.repository == name, manifests.c.deleted_at.is_(None)
    live_blobs = repository_blobs.c.repository == name, repository_blobs.c.deleted_at.is_(None)
    in_day = p.repository == name, within(p.minute, day)
    requests = p.manifest_gets + p.manifest_heads + p.blob_gets + p.blob_heads
    return [
        _scalar(live_tags, "tags"),
        _scalar(select(func.count()).where(*live_manifests), "manifests"),
        _scalar(select(func.count()).where(*live_blobs), "blobs"),
        (
            _scalar(select(func.sum(manifests.c.size)).where(*live_manifests), "manifest_bytes")
            + _scalar(select(func.sum(repository_blobs.c.size)).where(*live_blobs), "blob_bytes")
        ).label("size"),
        _scalar(select(func.sum(p.manifest_gets)).where(*in_day), "image_pulls_24h"),
        _scalar(select(func.sum(requests)).where(*in_day), "pull_requests_24h"),
    ]


def _summaries(now: datetime) -> Select[Any]:
    r = repositories.c
    return select(
        r.name,
        r.first_seen_at,
        r.last_event_at,
        r.last_pushed_at,
        r.last_pushed_by,
        r.source,
        r.deleted_at,
        *_summary_columns(now),
    )


def _summary(mapping: Any) -> dict[str, Any]:
    """A repository's summary; ``pulls_reported`` is false where its registry reports no
    pulls (its pull counts are then unknown, not zero)."""
    row = _json(mapping)
    row["source"] = row["source"] or DISTRIBUTION  # NULL: stored before revision 0004
    facts = SOURCES.get(row["source"])
    row["pulls_reported"] = facts is None or facts.pulls
    return row


def _json(mapping: Any) -> dict[str, Any]:
    row = dict(mapping)
    for key in _TIMES:
        if key in row:
            row[key] = iso(as_utc(row[key])) if row[key] is not None else None
    return row


def _order(query: Select[Any], sort: str) -> Select[Any]:
    """By name, or most recent push, largest size, most image pulls in 24 h first."""
    name, columns = repositories.c.name, query.selected_columns
    if sort == "last_push":
        return query.order_by(repositories.c.last_pushed_at.desc().nulls_last(), name)
    if sort == "size":
        return query.order_by(columns.size.desc(), name)
    if sort == "pulls":
        return query.order_by(columns.image_pulls_24h.desc(), name)
    return query.order_by(name)


async def list_repositories(
    conn: AsyncConnection, now: datetime, page: PageRequest, sort: str = "name", name: str | None = None
) -> list[dict[str, Any]]:
    """Every repository the registry still lists, or only ``name`` (the page's repository
    filter)."""
    live = _named(_summaries(now), name).where(repositories.c.deleted_at.is_(None))
    query = _order(live, sort).limit(page.fetch).offset(page.offset)
    return [_summary(row) for row in (await conn.execute(query)).mappings()]


async def repository(conn: AsyncConnection, name: str, now: datetime) -> dict[str, Any] | None:
    query = _summaries(now).where(repositories.c.name == name)
    row = (await conn.execute(query)).mappings().one_or_none()
    return _summary(row) if row is not None else None


async def repository_exists(conn: AsyncConnection, name: str) -> bool:
    """A primary-key lookup: no summary work, for endpoints that only need the 404."""
    query = select(repositories.c.name).where(repositories.c.name == name)
    return (await conn.execute(query)).first() is not None


async def repository_tags(
    conn: AsyncConnection, name: str, page: PageRequest, include_deleted: bool
) -> list[dict[str, Any]]:
    t, m = tags.c, manifests.c
    joined = tags.outerjoin(manifests, and_(m.repository == t.repository, m.digest == t.digest))
    query = (
        select(t.tag, t.digest, m.media_type, m.size, t.updated_at, t.updated_by, t.deleted_at, t.deleted_by)
        .select_from(joined)
        .where(t.repository == name, *([] if include_deleted else [t.deleted_at.is_(None)]))
        .order_by(t.tag)
        .limit(page.fetch)
        .offset(page.offset)
    )
    return [_json(row) for row in (await conn.execute(query)).mappings()]


async def repository_manifests(
    conn: AsyncConnection, name: str, page: PageRequest, include_deleted: bool
) -> list[dict[str, Any]]:
    m = manifests.c
    query = (
        select(
            m.digest,
            m.media_type,
            m.size,
            m.first_pushed_at,
            m.last_pushed_at,
            m.pushed_by,
            m.push_count,
            m.deleted_at,
            m.deleted_by,
        )
        .where(m.repository == name, *([] if include_deleted else [m.deleted_at.is_(None)]))
        .order_by(m.last_pushed_at.desc(), m.digest)
        .limit(page.fetch)
        .offset(page.offset)
    )
    rows = [_json(row) for row in (await conn.execute(query)).mappings()]
    named = await _live_tags(conn, name, [row["digest"] for row in rows])
    for row in rows:
        row["tags"] = named.get(row["digest"], [])
    return rows


async def _live_tags(conn: AsyncConnection, name: str, digests: list[str]) -> dict[str, list[str]]:
    if not digests:
        return {}
    t = tags.c
    query = (
        select(t.digest, t.tag)
        .where(t.repository == name, t.digest.in_(digests), t.deleted_at.is_(None))
        .order_by(t.tag)
    )
    found: dict[str, list[str]] = {}
    for digest, tag in (await conn.execute(query)).all():
        found.setdefault(digest, []).append(tag)
    return found


async def repository_count(conn: AsyncConnection, name: str | None = None) -> int:
    """How many repositories the inventory holds (those the registry still lists); with
    ``name``, 1 or 0."""
    query = _named(select(func.count()).select_from(repositories), name)
    query = query.where(repositories.c.deleted_at.is_(None))
    return int((await conn.execute(query)).scalar_one())


def _named(query: Select[Any], name: str | None) -> Select[Any]:
    return query if name is None else query.where(repositories.c.name == name)
