"""What the reconcile fetched about the live manifests, loaded in a few set-based queries:
each manifest's own size, kind and subject (``manifest_contents``), an index's children
(``manifest_children``, nested indexes followed) and, when asked, an image's config and
layers (``manifest_blobs``). :mod:`consumers.lifecycle.facts` sums sizes from it and
:mod:`consumers.lifecycle.storage` builds the blob graph from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.store.tables import manifest_blobs, manifest_children, manifest_contents, manifests
from consumers.store.writes import chunks

MAX_DEPTH = 4  # an index of indexes of indexes: deeper is not followed
Scope = str | frozenset[str] | None  # one repository, a few, or all (None)


@dataclass(frozen=True, slots=True)
class Content:
    kind: str  # image, index or other
    size: int | None  # the manifest's own bytes
    blobs_size: int | None  # config plus layers (images); None when unknown or no image
    subject: str | None  # the manifest an OCI artifact refers to


@dataclass(slots=True)
class Contents:
    of: dict[str, Content] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)  # index digest → child digests
    blobs: dict[str, list[tuple[str, int | None]]] = field(default_factory=dict)  # image → (blob, size)

    def size(self, digest: str, depth: int = 0) -> int | None:
        """The manifest + config + layers, or for an index its own bytes plus each child's
        size; None when any part is unknown."""
        content = self.of.get(digest)
        if content is None or content.size is None or depth > MAX_DEPTH:
            return None
        if content.kind == "image":
            return None if content.blobs_size is None else content.size + content.blobs_size
        if content.kind != "index":
            return content.size
        total = content.size
        for child in self.children.get(digest, []):
            size = self.size(child, depth + 1)
            if size is None:
                return None
            total += size
        return total

    def closure(self, digest: str, depth: int = 0) -> Iterable[str]:
        """The digest and every manifest it holds (an index's children, nested)."""
        yield digest
        if depth < MAX_DEPTH:
            for child in self.children.get(digest, []):
                yield from self.closure(child, depth + 1)


def in_scope(column: Any, scope: Scope) -> ColumnElement[bool] | None:
    """The condition that ``column`` (a repository name) is in ``scope``; None for all."""
    if scope is None:
        return None
    condition: ColumnElement[bool] = column == scope if isinstance(scope, str) else column.in_(sorted(scope))
    return condition


def scoped(query: Select[Any], column: Any, scope: Scope) -> Select[Any]:
    condition = in_scope(column, scope)
    return query if condition is None else query.where(condition)


def live_digests(repository: Scope = None) -> Select[Any]:
    """The digests of live manifests (of one repository, a few, or all)."""
    m = manifests.c
    return scoped(select(m.digest).where(m.deleted_at.is_(None)), m.repository, repository)


async def load_contents(
    conn: AsyncConnection, repository: Scope = None, *, with_blobs: bool = False
) -> Contents:
    """The contents of the live manifests (of ``repository``, or all) and of what they hold."""
    found = Contents()
    c, ch = manifest_contents.c, manifest_children.c
    live = live_digests(repository).distinct().scalar_subquery()
    await _add_contents(conn, found, select(*_CONTENT).where(c.digest.in_(live)))
    direct = set(found.of)
    children = select(ch.index_digest, ch.digest).where(ch.index_digest.in_(live))
    pending = await _add_children(conn, found, children.order_by(ch.index_digest, ch.position))
    for _ in range(MAX_DEPTH):
        missing = sorted(d for d in pending if d not in found.of)
        for part in chunks(missing, 500):
            await _add_contents(conn, found, select(*_CONTENT).where(c.digest.in_(part)))
        nested = sorted(d for d in pending if _is_index(found, d) and d not in found.children)
        if not nested:
            break
        pending = set()
        for part in chunks(nested, 500):
            query = select(ch.index_digest, ch.digest).where(ch.index_digest.in_(part))
            pending |= await _add_children(conn, found, query.order_by(ch.index_digest, ch.position))
    if with_blobs:
        await _add_blobs(conn, found, live, direct)
    return found


_CONTENT = (
    manifest_contents.c.digest,
    manifest_contents.c.kind,
    manifest_contents.c.size,
    manifest_contents.c.blobs_size,
    manifest_contents.c.subject_digest,
)


def _is_index(found: Contents, digest: str) -> bool:
    content = found.of.get(digest)
    return content is not None and content.kind == "index"


async def _add_contents(conn: AsyncConnection, found: Contents, query: Select[Any]) -> None:
    for digest, kind, size, blobs_size, subject in (await conn.execute(query)).all():
        found.of[digest] = Content(kind, size, blobs_size, subject)


async def _add_children(conn: AsyncConnection, found: Contents, query: Select[Any]) -> set[str]:
    """Adds the children; returns the child digests seen."""
    seen: set[str] = set()
    for index, child in (await conn.execute(query)).all():
        found.children.setdefault(index, []).append(child)
        seen.add(child)
    return seen


async def _add_blobs(conn: AsyncConnection, found: Contents, live: Any, direct: set[str]) -> None:
    """Config and layers of every image in ``found``: of the live manifests in one query,
    of the children that are no live manifest themselves by digest."""
    b = manifest_blobs.c
    columns = (b.manifest_digest, b.digest, b.size)
    queries = [select(*columns).where(b.manifest_digest.in_(live))]
    others = sorted(d for d, content in found.of.items() if content.kind == "image" and d not in direct)
    queries += [select(*columns).where(b.manifest_digest.in_(part)) for part in chunks(others, 1000)]
    for query in queries:
        for manifest, blob, size in (await conn.execute(query)).all():
            found.blobs.setdefault(manifest, []).append((blob, size))
