"""What the reconcile reads from the store, and the two things it writes itself.

Reads: the inventory rows of a page of repositories (:func:`read_states`), the live
repositories between two catalog names (:func:`live_repositories_between`, in the
registry's byte order), which manifest digests have their content already, and an index's
children.

Writes: manifest contents (:func:`store_contents`), facts addressed by digest that never
change, so they need no ordering with the events and go straight in (insert once, never
update); and the pass rows (:mod:`consumers.store.pass_rows`). Everything the
registry's state says about the inventory goes through ``<prefix>.reconcile`` instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.registry_api import Descriptor, Manifest
from consumers.store.observed import Row
from consumers.store.tables import (
    manifest_blobs,
    manifest_children,
    manifest_contents,
    manifests,
    repositories,
    tags,
)
from consumers.store.writes import chunks, execute_many, insert_for


@dataclass(slots=True)
class RepositoryState:
    """One repository's rows in the store (tombstones included)."""

    name: str
    row: Row | None = None
    tags: dict[str, Row] = field(default_factory=dict)
    manifests: dict[str, Row] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        return self.row is not None and self.row.deleted_at is None

    @property
    def live_tags(self) -> dict[str, str | None]:
        return {tag: row.digest for tag, row in self.tags.items() if row.deleted_at is None}

    @property
    def live_manifests(self) -> set[str]:
        return {digest for digest, row in self.manifests.items() if row.deleted_at is None}


async def read_states(connection: AsyncConnection, names: Sequence[str]) -> dict[str, RepositoryState]:
    states = {name: RepositoryState(name) for name in names}
    r, t, m = repositories.c, tags.c, manifests.c
    for part in chunks(list(names), 500):
        found = await connection.execute(
            select(r.name, r.last_event_at, r.deleted_at).where(r.name.in_(part))
        )
        for name, changed, deleted in found:
            states[name].row = Row(changed, deleted)
        query = select(t.repository, t.tag, t.updated_at, t.deleted_at, t.digest)
        for name, tag, changed, deleted, digest in await connection.execute(
            query.where(t.repository.in_(part))
        ):
            states[name].tags[tag] = Row(changed, deleted, digest)
        query = select(m.repository, m.digest, m.last_pushed_at, m.deleted_at)
        for name, digest, changed, deleted in await connection.execute(query.where(m.repository.in_(part))):
            states[name].manifests[digest] = Row(changed, deleted)
    return states


def _bytewise(column: ColumnElement[str], connection: AsyncConnection) -> ColumnElement[str]:
    """Compare as the registry sorts (bytes): PostgreSQL's default collation does not."""
    return column.collate("C") if connection.dialect.name == "postgresql" else column


async def live_repositories_between(
    connection: AsyncConnection, after: str | None, until: str | None, limit: int = 1000
) -> list[str]:
    """Live repositories with ``after < name <= until`` (either end open), in byte order;
    at most ``limit`` (call again after the last one for more)."""
    name = _bytewise(repositories.c.name, connection)
    query = select(repositories.c.name).where(repositories.c.deleted_at.is_(None))
    if after is not None:
        query = query.where(name > after)
    if until is not None:
        query = query.where(name <= until)
    query = query.order_by(name).limit(limit)
    return [str(value) for value in (await connection.execute(query)).scalars()]


async def known_contents(connection: AsyncConnection, digests: Iterable[str]) -> set[str]:
    wanted = sorted(set(digests))
    found: set[str] = set()
    c = manifest_contents.c
    for part in chunks(wanted, 500):
        found.update(
            str(d) for d in (await connection.execute(select(c.digest).where(c.digest.in_(part)))).scalars()
        )
    return found


async def children_of(connection: AsyncConnection, indexes: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """index digest → its children (digest, media_type, size), in order."""
    wanted = sorted(set(indexes))
    found: dict[str, list[dict[str, Any]]] = {}
    c = manifest_children.c
    for part in chunks(wanted, 500):
        query = select(c.index_digest, c.digest, c.media_type, c.size).where(c.index_digest.in_(part))
        for row in (await connection.execute(query.order_by(c.index_digest, c.position))).mappings():
            found.setdefault(row["index_digest"], []).append(dict(row))
    return found


async def store_contents(connection: AsyncConnection, fetched: Sequence[Manifest], now: datetime) -> None:
    """Each manifest's content, once per digest (a digest already there is left alone)."""
    new = {m.ref.digest: m for m in fetched}
    if not new:
        return
    missing = set(new) - await known_contents(connection, new)
    rows = [new[d] for d in sorted(missing)]
    contents = [
        {
            "digest": m.ref.digest,
            "media_type": m.ref.media_type,
            "size": m.ref.size,
            "kind": m.content.kind,
            "artifact_type": m.content.artifact_type,
            "subject_digest": m.content.subject,
            "blobs_size": m.content.blobs_size,
            "fetched_at": now,
        }
        for m in rows
    ]
    statement = insert_for(connection, manifest_contents).on_conflict_do_nothing(index_elements=["digest"])
    await execute_many(connection, statement, contents)
    blobs = [
        {"manifest_digest": m.ref.digest, "position": n, "role": role}
        | {"digest": d.digest, "media_type": d.media_type, "size": d.size}
        for m in rows
        for n, role, d in _blobs(m)
    ]
    statement = insert_for(connection, manifest_blobs).on_conflict_do_nothing()
    await execute_many(connection, statement, blobs)
    children = [
        {"index_digest": m.ref.digest, "position": n, "digest": d.digest, "media_type": d.media_type}
        | {"size": d.size, "platform_os": d.platform_os, "platform_architecture": d.platform_architecture}
        | {"platform_variant": d.platform_variant}
        for m in rows
        for n, d in enumerate(m.content.children)
    ]
    statement = insert_for(connection, manifest_children).on_conflict_do_nothing()
    await execute_many(connection, statement, children)


def _blobs(manifest: Manifest) -> list[tuple[int, str, Descriptor]]:
    """(position, role, descriptor): the config at 0 when there is one, layers from 1."""
    config = manifest.content.config
    first = [(0, "config", config)] if config is not None else []
    return first + [(n, "layer", layer) for n, layer in enumerate(manifest.content.layers, start=1)]
