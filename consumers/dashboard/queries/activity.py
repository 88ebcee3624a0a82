"""Recent activity: pushes read back from the inventory, plus the audit log.

The store keeps no per-event push log, so a push is read from what it left behind:

* an image pushed by tag: one row per tag (``tags.updated_at``, the tag's latest push),
  except for a tag removed by a tag delete, which overwrites ``updated_at`` with the
  delete time (its delete is in the audit log; its push is no longer listed);
* a manifest pushed only by digest (no tag ever named it, e.g. the platform manifests of
  a multi-arch image): one row (``manifests.last_pushed_at``);
* a blob upload: one row per blob first uploaded to a repository (``repository_blobs``
  with ``source = 'push'``, at ``first_seen_at``); mounts are in the audit log.

Re-pushing a tag moves its row forward rather than adding one, so older pushes of the
same tag are not listed. This is a listing only: push counts per bucket come from the
``pushes`` table (see ``pushes``), which counts every push event. Deletes, mounts and
unknown actions come from ``audit_log`` one row per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, and_, exists, literal_column, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.dashboard.pagination import PageRequest
from consumers.dashboard.params import Window, as_utc, iso
from consumers.dashboard.queries.buckets import within
from consumers.store.tables import audit_log, manifests, repository_blobs, tags

COLUMNS = (
    "time",
    "action",
    "kind",
    "repository",
    "tag",
    "digest",
    "media_type",
    "size",
    "actor",
    "from_repository",
)


@dataclass(frozen=True, slots=True)
class ActivityFilter:
    window: Window | None = None
    action: str | None = None
    kind: str | None = None
    repository: str | None = None
    actor: str | None = None


def _text(value: str) -> ColumnElement[Any]:
    return literal_column(f"'{value}'")


def _select(*columns: ColumnElement[Any]) -> Select[Any]:
    return select(*(column.label(name) for column, name in zip(columns, COLUMNS, strict=True)))


def _push_time_kept() -> ColumnElement[bool]:
    """A tag delete moves ``updated_at`` to the delete; such a tag's push time is gone."""
    return tags.c.deleted_at.is_(None) | (tags.c.updated_at < tags.c.deleted_at)


def _tag_pushes() -> Select[Any]:
    joined = tags.outerjoin(
        manifests, and_(manifests.c.repository == tags.c.repository, manifests.c.digest == tags.c.digest)
    )
    return (
        _select(
            tags.c.updated_at,
            _text("push"),
            _text("manifest"),
            tags.c.repository,
            tags.c.tag,
            tags.c.digest,
            manifests.c.media_type,
            manifests.c.size,
            tags.c.updated_by,
            null(),
        )
        .select_from(joined)
        .where(tags.c.digest.is_not(None), _push_time_kept())
    )


def _digest_pushes() -> Select[Any]:
    tagged = exists().where(tags.c.repository == manifests.c.repository, tags.c.digest == manifests.c.digest)
    return _select(
        manifests.c.last_pushed_at,
        _text("push"),
        _text("manifest"),
        manifests.c.repository,
        null(),
        manifests.c.digest,
        manifests.c.media_type,
        manifests.c.size,
        manifests.c.pushed_by,
        null(),
    ).where(~tagged)


def _blob_uploads() -> Select[Any]:
    blobs = repository_blobs
    return _select(
        blobs.c.first_seen_at,
        _text("push"),
        _text("blob"),
        blobs.c.repository,
        null(),
        blobs.c.digest,
        blobs.c.media_type,
        blobs.c.size,
        null(),
        null(),
    ).where(blobs.c.source == "push")


def _audit() -> Select[Any]:
    a = audit_log
    return _select(
        a.c.occurred_at,
        a.c.action,
        a.c.kind,
        a.c.repository,
        a.c.tag,
        a.c.digest,
        null(),
        null(),
        a.c.actor,
        a.c.from_repository,
    )


def activity() -> Subquery:
    """Every push, delete, mount and unknown action as one relation (see COLUMNS)."""
    return union_all(_tag_pushes(), _digest_pushes(), _blob_uploads(), _audit()).subquery("activity")


def conditions(rows: Subquery, wanted: ActivityFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if wanted.window is not None:
        found.append(within(rows.c.time, wanted.window))
    for name in ("action", "kind", "repository", "actor"):
        value = getattr(wanted, name)
        if value is not None:
            found.append(rows.c[name] == value)
    return found


def _row(mapping: Any) -> dict[str, Any]:
    row = dict(mapping)
    row["time"] = iso(as_utc(row["time"]))
    return row


async def recent(conn: AsyncConnection, wanted: ActivityFilter, page: PageRequest) -> list[dict[str, Any]]:
    """Newest first; ``page.fetch`` rows."""
    rows = activity()
    query = (
        select(rows)
        .where(*conditions(rows, wanted))
        .order_by(rows.c.time.desc(), rows.c.repository, rows.c.tag, rows.c.digest)
        .limit(page.fetch)
        .offset(page.offset)
    )
    result = await conn.execute(query)
    return [_row(r) for r in result.mappings()]
