"""The stale manifests' page, chosen in the store: which live manifests nobody pulled since a
cutoff, ordered by size, one page of them (:func:`consumers.lifecycle.facts.stale_manifests`
then builds the facts of that page only). One query, registry-wide but set-based:

* *not pulled since*: no ``pull_last`` row by digest at or after the cutoff, and none by the
  name of a live tag pointing at it at or after both the cutoff and the time the tag started
  pointing there (its open ``tag_history`` row), as :func:`~consumers.lifecycle.facts.manifest_facts`
  counts pulls;
* *size*: :meth:`~consumers.lifecycle.contents.Contents.size` in SQL: an image's manifest,
  config and layers (``manifest_contents.size + blobs_size``), an index's own bytes plus
  every manifest it holds (``manifest_children`` followed with a recursive query, nested
  indexes included, at most ``MAX_DEPTH`` deep); unknown (NULL) when any part is.

Ties are broken by repository and digest in code-point order (``COLLATE "C"`` on
PostgreSQL, SQLite's default), as Python sorts them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.lifecycle.contents import MAX_DEPTH
from consumers.store.tables import (
    manifest_children,
    manifest_contents,
    manifests,
    pull_last,
    tag_history,
    tags,
)

Key = tuple[str, str]  # (repository, digest)


async def stale_page(conn: AsyncConnection, cutoff: datetime, limit: int, offset: int) -> list[Key]:
    """(repository, digest) of the live manifests not pulled at or after ``cutoff`` (naive
    UTC), largest first (unknown sizes last), then by repository and digest."""
    m, c = manifests.c, manifest_contents.c
    size = _size()
    repository: Any = m.repository
    digest: Any = m.digest
    if conn.dialect.name == "postgresql":
        repository, digest = repository.collate("C"), digest.collate("C")
    query = (
        select(m.repository, m.digest)
        .select_from(
            manifests.outerjoin(manifest_contents, c.digest == m.digest).outerjoin(
                size, size.c.root == m.digest
            )
        )
        .where(m.deleted_at.is_(None), ~_pulled_by_digest(cutoff), ~_pulled_by_tag(cutoff))
    )
    own = case(
        (c.kind == "image", c.size + c.blobs_size),
        (c.kind == "index", case((size.c.root.is_(None), c.size), else_=c.size + size.c.held)),
        else_=c.size,
    )
    query = query.order_by(own.is_(None), own.desc(), repository, digest).limit(limit).offset(offset)
    return [(row.repository, row.digest) for row in (await conn.execute(query)).all()]


def _pulled_by_digest(cutoff: datetime) -> Any:
    p, m = pull_last.c, manifests.c
    recent = or_(p.last_get_at >= cutoff, p.last_head_at >= cutoff)
    return exists().where(p.repository == m.repository, p.reference == m.digest, recent)


def _pulled_by_tag(cutoff: datetime) -> Any:
    p, t, h, m = pull_last.c, tags.c, tag_history.c, manifests.c
    opened = (
        select(func.min(h.pushed_at))
        .where(h.repository == t.repository, h.tag == t.tag, h.replaced_at.is_(None))
        .scalar_subquery()
    )
    since = func.coalesce(opened, t.updated_at)
    recent = or_(
        and_(p.last_get_at >= cutoff, p.last_get_at >= since),
        and_(p.last_head_at >= cutoff, p.last_head_at >= since),
    )
    return (
        exists()
        .select_from(tags.join(pull_last, and_(p.repository == t.repository, p.reference == t.tag)))
        .where(t.repository == m.repository, t.digest == m.digest, t.deleted_at.is_(None), recent)
    )


def _size() -> Any:
    """root (an index digest) → ``held``: the size of everything it holds, NULL when any
    part is unknown or deeper than ``MAX_DEPTH``."""
    ch, c = manifest_children.c, manifest_contents.c
    m = manifests.c
    roots = select(m.digest).where(m.deleted_at.is_(None))
    start = select(ch.index_digest.label("root"), ch.digest.label("digest"), literal(1).label("depth")).where(
        ch.index_digest.in_(roots)
    )
    closure = start.cte("closure", recursive=True)
    step = (
        select(closure.c.root, ch.digest, (closure.c.depth + 1).label("depth"))
        .select_from(closure.join(manifest_children, ch.index_digest == closure.c.digest))
        .where(closure.c.depth <= MAX_DEPTH)
    )
    closure = closure.union_all(step)
    part = case(
        (closure.c.depth > MAX_DEPTH, None),
        (c.kind == "image", c.size + c.blobs_size),
        else_=c.size,
    )
    held = case((func.count() == func.count(part), func.sum(part)), else_=None)
    return (
        select(closure.c.root, held.label("held"))
        .select_from(closure.outerjoin(manifest_contents, c.digest == closure.c.digest))
        .group_by(closure.c.root)
        .subquery("held")
    )
