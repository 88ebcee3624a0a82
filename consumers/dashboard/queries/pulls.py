"""Pull statistics: sums of the ``pulls`` and ``pull_clients`` buckets, or of their hourly
and daily rollups for long or old windows (``PullFilter.grain``, see ``rollups``).

What does not need the reference (totals, active repositories, series, images ranked by
repository) reads the per-repository rollups (``pulls_repository_hourly``/``_daily``), and
the registry-wide totals and series the total rollups (``pulls_total_hourly``/``_daily``):
the same sums from a fraction of the rows. Images ranked by reference read
``pulls_hourly``/``pulls_daily``; the minute grain reads ``pulls`` for all.

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
from consumers.store.tables import (
    pull_clients,
    pull_clients_daily,
    pulls,
    pulls_daily,
    pulls_hourly,
    pulls_repository_daily,
    pulls_repository_hourly,
    pulls_total_daily,
    pulls_total_hourly,
)

COUNTERS = ("manifest_gets", "manifest_heads", "blob_gets", "blob_heads", "bytes")
PULL_TABLES = {"minute": pulls, "hour": pulls_hourly, "day": pulls_daily}
REPOSITORY_TABLES = {"minute": pulls, "hour": pulls_repository_hourly, "day": pulls_repository_daily}
TOTAL_TABLES = {"minute": pulls, "hour": pulls_total_hourly, "day": pulls_total_daily}
CLIENT_TABLES = {"minute": pull_clients, "hour": pull_clients_daily, "day": pull_clients_daily}


def time_column(table: Table) -> ColumnElement[datetime]:
    """The bucket start: the first column of every statistics table's primary key."""
    return next(iter(table.primary_key.columns))


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
    grain: str = "minute"  # which tables answer (``rollups.grain``)

    @property
    def pulls(self) -> Table:
        """Per reference."""
        return PULL_TABLES[self.grain]

    @property
    def repositories(self) -> Table:
        """Per repository (the reference summed out), for what does not need the reference."""
        return REPOSITORY_TABLES[self.grain]

    @property
    def sums(self) -> Table:
        """For sums over every reference: the registry-wide rollups when no repository is
        asked for, else the per-repository ones."""
        return (TOTAL_TABLES if self.repository is None else REPOSITORY_TABLES)[self.grain]

    @property
    def clients(self) -> Table:
        return CLIENT_TABLES[self.grain]

    def on(self, table: Table) -> list[ColumnElement[bool]]:
        found = [within(time_column(table), self.window)]
        if self.repository is not None:
            found.append(table.c.repository == self.repository)
        return found


async def totals(conn: AsyncConnection, wanted: PullFilter) -> dict[str, int]:
    """The counters summed over the window."""
    table = wanted.sums
    row = (await conn.execute(select(*_sums(table)).where(*wanted.on(table)))).mappings().one()
    return _counts(row)


async def active_repositories(conn: AsyncConnection, wanted: PullFilter) -> int:
    table = wanted.repositories
    query = select(func.count(func.distinct(table.c.repository))).where(*wanted.on(table))
    return int((await conn.execute(query)).scalar_one())


async def series(conn: AsyncConnection, wanted: PullFilter, step: str) -> dict[datetime, dict[str, int]]:
    """Counters per ``step`` bucket that has any; empty buckets are absent."""
    table = wanted.sums
    start = bucket(conn.dialect.name, step, time_column(table)).label("bucket")
    query = select(start, *_sums(table)).where(*wanted.on(table)).group_by(start)
    result = await conn.execute(query)
    return {bucket_time(row["bucket"]): _counts(row) for row in result.mappings()}


async def top_images(
    conn: AsyncConnection, wanted: PullFilter, page: PageRequest, by_reference: bool
) -> list[dict[str, Any]]:
    """Most image pulls first (then most requests); per repository or per reference."""
    table = wanted.pulls if by_reference else wanted.repositories
    keys = [table.c.repository, *([table.c.reference] if by_reference else [])]
    sums = _sums(table)
    last = func.max(table.c.last_pulled_at).label("last_pulled_at")
    query = (
        select(*keys, *sums, last)
        .where(*wanted.on(table))
        .group_by(*keys)
        .order_by(sums[0].desc(), sums[-1].desc(), *keys)
        .limit(page.fetch)
        .offset(page.offset)
    )
    result = await conn.execute(query)
    return [_keyed(row, [k.name for k in keys]) for row in result.mappings()]


async def top_clients(conn: AsyncConnection, wanted: PullFilter, page: PageRequest) -> list[dict[str, Any]]:
    """The clients (actor, address, user agent) with the most pull requests."""
    c = wanted.clients
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
