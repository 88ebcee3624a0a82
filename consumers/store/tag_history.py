"""``tag_history``: one row per period a tag pointed at one digest, kept in step with
``tags`` by the handlers that change it, in their batch's transaction.

A handler calls :func:`record_tag_changes` with the batch's tag changes *before* it
writes ``tags``: a push of a tag to a digest, or the end of a tag (a tag delete, a delete
of the manifest it points at, a reconcile ``tag_removed``). They are applied oldest first
with the guard ``tags`` uses, so both tables agree: a change older than the tag's last
change (``tags.updated_at``) changes nothing. A push to the digest the tag already points
at changes nothing either; a push to another digest closes the open row (``replaced_at``,
``replaced_by``) and opens a new one; an end closes it. The ``tags`` rows are locked first
on PostgreSQL (``FOR UPDATE``), so the push and other consumers take turns on a tag.

The whole batch is two reads and two writes (one ``executemany`` each), chunked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.store.tables import tag_history, tags
from consumers.store.writes import chunks, execute_many

TagKey = tuple[str, str]  # (repository, tag)


@dataclass(frozen=True, slots=True)
class TagChange:
    """A tag pushed to ``digest`` (``present``), or gone (not ``present``), at ``at`` by ``by``."""

    repository: str
    tag: str
    at: datetime
    by: str | None
    digest: str | None = None
    present: bool = True

    @property
    def key(self) -> TagKey:
        return self.repository, self.tag


@dataclass(slots=True)
class _Period:
    """The open row of a tag: stored (``id``) or new in this batch (``row``)."""

    digest: str | None
    id: int | None = None
    row: dict[str, Any] | None = None


@dataclass(slots=True)
class _Tag:
    changed_at: datetime | None  # tags.updated_at; None: no tags row yet
    open: _Period | None = None


@dataclass(slots=True)
class _Writes:
    closed: list[dict[str, Any]] = field(default_factory=list)
    opened: list[dict[str, Any]] = field(default_factory=list)

    def close(self, period: _Period, at: datetime, by: str | None) -> None:
        if period.row is not None:
            period.row.update(replaced_at=at, replaced_by=by)
        else:
            self.closed.append({"b_id": period.id, "b_at": at, "b_by": by})

    def open(self, change: TagChange) -> _Period:
        row = {
            "repository": change.repository,
            "tag": change.tag,
            "digest": change.digest,
            "pushed_at": change.at,
            "pushed_by": change.by,
            "replaced_at": None,
            "replaced_by": None,
        }
        self.opened.append(row)
        return _Period(change.digest, row=row)


async def record_tag_changes(connection: AsyncConnection, changes: Sequence[TagChange]) -> None:
    """Apply ``changes`` (any order) to ``tag_history``; see the module docstring."""
    if not changes:
        return
    state = await _current(connection, sorted({change.key for change in changes}))
    writes = _Writes()
    for change in sorted(changes, key=lambda c: c.at):
        _apply(state.setdefault(change.key, _Tag(None)), change, writes)
    if writes.closed:
        h = tag_history.c
        statement = (
            update(tag_history)
            .where(h.id == bindparam("b_id"))
            .values(replaced_at=bindparam("b_at"), replaced_by=bindparam("b_by"))
        )
        await connection.execute(statement, writes.closed)
    await execute_many(connection, tag_history.insert(), writes.opened)


def _apply(tag: _Tag, change: TagChange, writes: _Writes) -> None:
    if tag.changed_at is not None and change.at < tag.changed_at:
        return  # older than the tag's last change: tags ignores it too
    if not change.present and tag.changed_at is None:
        return  # a tombstone for a tag never seen: no period to end
    tag.changed_at = change.at
    if change.present and tag.open is not None and tag.open.digest == change.digest:
        return  # re-pushed to the same digest
    if tag.open is not None:
        writes.close(tag.open, change.at, change.by)
        tag.open = None
    if change.present:
        tag.open = writes.open(change)


async def _current(connection: AsyncConnection, keys: Sequence[TagKey]) -> dict[TagKey, _Tag]:
    """The tags' last change (rows locked) and their open periods."""
    t, h = tags.c, tag_history.c
    state: dict[TagKey, _Tag] = {}
    for part in chunks(keys, 500):
        query = select(t.repository, t.tag, t.updated_at).where(tuple_(t.repository, t.tag).in_(part))
        locked = query.order_by(t.repository, t.tag).with_for_update()  # in key order: no deadlock between us
        for repository, tag, updated_at in await connection.execute(locked):
            state[(repository, tag)] = _Tag(updated_at)
    for part in chunks(keys, 500):
        query = select(h.repository, h.tag, h.id, h.digest).where(
            tuple_(h.repository, h.tag).in_(part), h.replaced_at.is_(None)
        )
        for row in await connection.execute(query.order_by(h.id)):
            state.setdefault((row.repository, row.tag), _Tag(None)).open = _Period(row.digest, id=row.id)
    return state


async def tags_pointing_at(
    connection: AsyncConnection, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """(repository, digest) → the live tags pointing at it (for a manifest delete)."""
    t = tags.c
    found: dict[tuple[str, str], list[str]] = {}
    for part in chunks(sorted(set(pairs)), 500):
        query = select(t.repository, t.digest, t.tag).where(
            tuple_(t.repository, t.digest).in_(part), t.deleted_at.is_(None)
        )
        for repository, digest, tag in await connection.execute(query):
            found.setdefault((repository, digest), []).append(tag)
    return found
