"""Pull statistics: sums of the per-minute ``pulls`` and ``pull_clients`` buckets.

Counters, as the pull handler stores them:

* ``manifest_gets``: image pulls (what registries bill as a pull);
* ``manifest_heads``, ``blob_heads``: existence checks (a ``docker pull`` by tag starts
  with a manifest HEAD);
* ``blob_gets``: layer and config downloads;
* ``requests``: all four, i.e. every ``pull`` event the registry sent;
* ``bytes``: body bytes served by GETs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.dashboard.pagination import PageRequest
from consumers.dashboard.params import Window, as_utc, iso
from consumers.dashboard.queries.buckets import bucket, bucket_time, within
from consumers.store.tables import pull_clients, pulls

COUNTERS = ("manifest_gets", "manifest_heads", "blob_gets", "blob_heads", "bytes")


def _sums(table: Table) -> list[ColumnElement[Any]]:
    sums = [func.coalesce(func.sum(table.c[name]), 0).label(name) for name in COUNTERS]
    c = table.c
    total = c.manifest_gets + c.manifest_heads + c.blob_gets + c.blob_heads
    return [*sums, func.coalesce(func.sum(total), 0).label("requests")]


def _counts(row: Any) -> dict[str, int]:
    return {name: int(row[name]) for name in (*COUNTERS, "requests")}


@dataclass(frozen=True, slots=True)
class PullFilter:
    window: Window
    repository: str | None = None

    def on(self, table: Table) -> list[ColumnElement[bool]]:
        found = [within(table.c.minute, self.window)]
        if self.repository is not None:
            found.append(table.c.repository == self.repository)
        return found


async def totals(conn: AsyncConnection, wanted: PullFilter) -> dict[str, int]:
    """The counters summed over the window."""
    row = (await conn.execute(select(*_sums(pulls)).where(*wanted.on(pulls)))).mappings().one()
    return _counts(row)


async def active_repositories(conn: AsyncConnection, wanted: PullFilter) -> int:
    query = select(func.count(func.distinct(pulls.c.repository))).where(*wanted.on(pulls))
    return int((await conn.execute(query)).scalar_one())


async def series(conn: AsyncConnection, wanted: PullFilter, step: str) -> dict[datetime, dict[str, int]]:
    """Counters per ``step`` bucket that has any; empty buckets are absent."""
    start = bucket(conn.dialect.name, step, pulls.c.minute).label("bucket")
    query = select(start, *_sums(pulls)).where(*wanted.on(pulls)).group_by(start)
    result = await conn.execute(query)
    return {bucket_time(row["bucket"]): _counts(row) for row in result.mappings()}


async def top_images(
    conn: AsyncConnection, wanted: PullFilter, page: PageRequest, by_reference: bool
) -> list[dict[str, Any]]:
    """Most image pulls first (then most requests); per repository or per reference."""
    keys = [pulls.c.repository, *([pulls.c.reference] if by_reference else [])]
    sums = _sums(pulls)
    last = func.max(pulls.c.last_pulled_at).label("last_pulled_at")
    query = (
        select(*keys, *sums, last)
        .where(*wanted.on(pulls))
        .group_by(*keys)
        .order_by(sums[0].desc(), sums[-1].desc(), *keys)
        .limit(page.fetch)
        .offset(page.offset)
    )
    result = await conn.execute(query)
    return [_keyed(row, [k.name for k in keys]) for row in result.mappings()]


async def top_clients(conn: AsyncConnection, wanted: PullFilter, page: PageRequest) -> list[dict[str, Any]]:
    """The clients (actor, address, user agent) with the most pull requests."""
    c = pull_clients
    keys = [c.c.actor, c.c.client_addr, c.c.useragent]
    sums = _sums(c)
    last = func.max(c.c.last_pulled_at).label("last_pulled_at")
    query = (
        select(*keys, *sums, last)
        .where(*wanted.on(c))
        .group_by(*keys)
        .order_by(sums[-1].desc(), sums[-2].desc(), *keys)
        .limit(page.fetch)
        .offset(page.offset)
    )
    result = await conn.execute(query)
    rows = [_keyed(row, ["actor", "client_addr", "useragent"]) for row in result.mappings()]
    return [_client(row) for row in rows]


def _client(row: dict[str, Any]) -> dict[str, Any]:
    """``''`` marks an absent key column in the store; the API says null."""
    who = {"actor": row.pop("actor") or None, "addr": row.pop("client_addr") or None}
    return {**who, "useragent": row.pop("useragent") or None, **row}


def _keyed(row: Any, keys: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {key: row[key] for key in keys}
    found.update(_counts(row))
    found["last_pulled_at"] = iso(as_utc(row["last_pulled_at"])) if row["last_pulled_at"] else None
    return found
