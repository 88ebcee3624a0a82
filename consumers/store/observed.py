"""Reading and writing the inventory rows reconcile observations are about
(:mod:`consumers.handlers.observed` decides; this module reads and writes).

Every row is seen as a :class:`Row`: the digest (tags), the time it last changed
(``tags.updated_at``, ``manifests.last_pushed_at``, ``repositories.last_event_at``) and its
deletion time. Reads lock the rows on PostgreSQL (``FOR UPDATE``; SQLite writers hold the
database lock already), so the decision holds until the transaction commits; writes are
also guarded by time in SQL, so a row that moved on is never set back. Tag repairs also
open and close ``tag_history`` periods (:mod:`consumers.store.tag_history`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, bindparam, case, null, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from common.contract import RECONCILE_USER_AGENT, Observation
from consumers.store.tables import audit_log, manifests, repositories, tags
from consumers.store.tag_history import TagChange, record_tag_changes
from consumers.store.writes import chunks, execute_many, insert_for, later

Key = tuple[str, str, str]  # (table, repository, tag or digest or "")


@dataclass(frozen=True, slots=True)
class Row:
    changed_at: datetime
    deleted_at: datetime | None = None
    digest: str | None = None  # a tag's digest


StoreRows = dict[Key, Row]


def _select(table: str, names: Sequence[Any], *, lock: bool) -> Any:
    query: Any
    if table == "tags":
        t = tags.c
        query = select(t.repository, t.tag, t.updated_at, t.deleted_at, t.digest)
        query = query.where(tuple_(t.repository, t.tag).in_(names))
    elif table == "manifests":
        m = manifests.c
        query = select(m.repository, m.digest, m.last_pushed_at, m.deleted_at)
        query = query.where(tuple_(m.repository, m.digest).in_(names))
    else:
        r = repositories.c
        query = select(r.name, r.name, r.last_event_at, r.deleted_at).where(r.name.in_(names))
    return query.with_for_update() if lock else query


async def current_rows(connection: AsyncConnection, keys: Sequence[Key], *, lock: bool = True) -> StoreRows:
    """The rows the keys name (absent keys are missing from the result)."""
    found: StoreRows = {}
    for table in ("repositories", "manifests", "tags"):
        wanted = sorted({key for key in keys if key[0] == table})
        names: list[Any] = [k[1] for k in wanted] if table == "repositories" else [k[1:] for k in wanted]
        for part in chunks(names, 500):
            for row in await connection.execute(_select(table, part, lock=lock)):
                second = row[1] if table != "repositories" else ""
                digest = row[4] if table == "tags" else None
                found[(table, row[0], second)] = Row(row[2], row[3], digest)
    return found


def row_after(observation: Observation, at: datetime, before: Row | None) -> Row:
    """How a repair leaves the row (for the next observation of the same batch)."""
    if observation.present:
        return Row(at, None, observation.digest)
    return Row(at, at, before.digest if before else None)


def _audit_row(
    observation: Observation, at: datetime, kind: str, before: Row | None, now: datetime
) -> dict[str, Any]:
    raw = observation.raw()
    raw["repair"] = {"kind": kind, "previous_digest": before.digest if before else None}
    digest = observation.digest or (before.digest if before else None)
    return {
        "event_id": observation.id,
        "occurred_at": at,
        "recorded_at": now,
        "action": "reconcile",
        "kind": kind,
        "repository": observation.repository,
        "tag": observation.tag,
        "digest": digest,
        "useragent": RECONCILE_USER_AGENT,
        "method": observation.method,
        "request_id": observation.pass_id,
        "raw": raw,
    }


Repairs = Sequence[tuple[Observation, datetime, str, "Row | None"]]


async def write_repairs(connection: AsyncConnection, repairs: Repairs, now: datetime) -> None:
    """The rows of ``repairs`` (oldest first) and one audit row each. Repairs of distinct
    rows go out as one statement per kind; when a row is repaired twice in the batch, they
    go one by one, in order."""
    await record_tag_changes(connection, tag_changes(repairs))
    keys = [(o.subject, o.repository, o.tag or o.digest) for o, _, _, _ in repairs]
    rounds = [list(repairs)] if len(set(keys)) == len(keys) else [[repair] for repair in repairs]
    for chosen in rounds:
        for kind, write in _WRITES.items():
            await write(connection, [(o, at) for o, at, k, _ in chosen if k == kind])
    rows = [_audit_row(o, at, kind, before, now) for o, at, kind, before in repairs]
    statement = insert_for(connection, audit_log).on_conflict_do_nothing(index_elements=["event_id"])
    await execute_many(connection, statement, rows)


def tag_changes(repairs: Repairs) -> list[TagChange]:
    """The ``tag_history`` changes of the tag repairs (the reconcile names no actor)."""
    return [
        TagChange(o.repository, o.tag or "", at, None, o.digest, present=kind != "tag_removed")
        for o, at, kind, _ in repairs
        if kind in ("tag_added", "tag_moved", "tag_removed")
    ]


Seen = Sequence[tuple[Observation, datetime]]


async def _present_tags(connection: AsyncConnection, seen: Seen) -> None:
    rows = [
        {"repository": o.repository, "tag": o.tag, "digest": o.digest, "updated_at": at, "updated_by": None}
        for o, at in seen
    ]
    if not rows:
        return
    t = tags.c
    statement = insert_for(connection, tags)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["repository", "tag"],
        set_={
            "digest": new.digest,
            "updated_at": new.updated_at,
            "updated_by": null(),
            "deleted_at": null(),
            "deleted_by": null(),
        },
        where=t.updated_at < new.updated_at,
    )
    await execute_many(connection, statement, rows)


async def _present_manifests(connection: AsyncConnection, seen: Seen) -> None:
    rows = [
        {
            "repository": o.repository,
            "digest": o.digest,
            "media_type": o.media_type,
            "size": o.size,
            "first_pushed_at": at,
            "last_pushed_at": at,
            "push_count": 0,
        }
        for o, at in seen
    ]
    if not rows:
        return
    m = manifests.c
    statement = insert_for(connection, manifests)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["repository", "digest"],
        set_={
            "deleted_at": null(),
            "deleted_by": null(),
            "last_pushed_at": later(new.last_pushed_at, m.last_pushed_at),
            "media_type": case((m.media_type.is_(None), new.media_type), else_=m.media_type),
            "size": case((m.size.is_(None), new.size), else_=m.size),
        },
        where=and_(m.deleted_at.is_not(None), m.deleted_at < new.last_pushed_at),
    )
    await execute_many(connection, statement, rows)


async def _present_repositories(connection: AsyncConnection, seen: Seen) -> None:
    rows = [{"name": o.repository, "first_seen_at": at, "last_event_at": at} for o, at in seen]
    if not rows:
        return
    r = repositories.c
    statement = insert_for(connection, repositories)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={"deleted_at": null(), "last_event_at": later(new.last_event_at, r.last_event_at)},
        where=and_(r.deleted_at.is_not(None), r.deleted_at < new.last_event_at),
    )
    await execute_many(connection, statement, rows)


_CHANGED = {"tags": "updated_at", "manifests": "last_pushed_at", "repositories": "last_event_at"}


async def _gone(connection: AsyncConnection, table: Table, seen: Seen) -> None:
    """Mark rows deleted at the observation's time, unless they changed since."""
    if not seen:
        return
    c = table.c
    changed = c[_CHANGED[table.name]]
    if table is repositories:
        where = [c.name == bindparam("o_repository")]
    else:
        second = c.tag if table is tags else c.digest
        where = [c.repository == bindparam("o_repository"), second == bindparam("o_second")]
    values: dict[str, Any] = {"deleted_at": bindparam("o_at")}
    if table is not repositories:
        values["deleted_by"] = null()
    if table is tags:
        values["updated_at"] = bindparam("o_at")
    statement = (
        update(table).where(*where, c.deleted_at.is_(None), changed < bindparam("o_at")).values(values)
    )
    rows = [{"o_repository": o.repository, "o_second": o.tag or o.digest, "o_at": at} for o, at in seen]
    if table is repositories:
        rows = [{"o_repository": row["o_repository"], "o_at": row["o_at"]} for row in rows]
    await connection.execute(statement, rows)


async def _gone_tags(connection: AsyncConnection, seen: Seen) -> None:
    await _gone(connection, tags, seen)


async def _gone_manifests(connection: AsyncConnection, seen: Seen) -> None:
    await _gone(connection, manifests, seen)


async def _gone_repositories(connection: AsyncConnection, seen: Seen) -> None:
    await _gone(connection, repositories, seen)


_WRITES: dict[str, Callable[[AsyncConnection, Seen], Awaitable[None]]] = {
    "repository_added": _present_repositories,
    "manifest_added": _present_manifests,
    "tag_added": _present_tags,
    "tag_moved": _present_tags,
    "tag_removed": _gone_tags,
    "manifest_removed": _gone_manifests,
    "repository_removed": _gone_repositories,
}
