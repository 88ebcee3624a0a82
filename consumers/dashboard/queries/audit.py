"""The audit log: every delete, mount and unknown action, one row per event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.dashboard.pagination import PageRequest
from consumers.dashboard.params import Window, as_utc, iso
from consumers.dashboard.queries.buckets import within
from consumers.store.tables import audit_log

_COLUMNS = (
    "event_id",
    "occurred_at",
    "recorded_at",
    "action",
    "kind",
    "repository",
    "tag",
    "digest",
    "from_repository",
    "actor",
    "addr",
    "useragent",
    "method",
    "request_id",
    "raw",
)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    window: Window | None = None
    action: str | None = None
    kind: str | None = None
    repository: str | None = None
    actor: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.window is not None:
            found.append(within(audit_log.c.occurred_at, self.window))
        for name in ("action", "kind", "repository", "actor"):
            value = getattr(self, name)
            if value is not None:
                found.append(audit_log.c[name] == value)
        return found


def _json(mapping: Any) -> dict[str, Any]:
    row = dict(mapping)
    row["recorded_at"] = iso(as_utc(row["recorded_at"]))
    return {"time": iso(as_utc(row.pop("occurred_at"))), **row}


async def entries(conn: AsyncConnection, wanted: AuditFilter, page: PageRequest) -> list[dict[str, Any]]:
    """Newest first."""
    a = audit_log.c
    query = (
        select(*(a[name] for name in _COLUMNS))
        .where(*wanted.conditions())
        .order_by(a.occurred_at.desc(), a.id.desc())
        .limit(page.fetch)
        .offset(page.offset)
    )
    return [_json(row) for row in (await conn.execute(query)).mappings()]


async def counts_by_action(conn: AsyncConnection, wanted: AuditFilter) -> dict[str, int]:
    a = audit_log.c
    query = select(a.action, func.count()).where(*wanted.conditions()).group_by(a.action)
    return {action: int(n) for action, n in (await conn.execute(query)).all()}
