"""Retention of the statistics: how long each time-bucketed table keeps its rows, and the
pruning that drops the expired ones in bounded batches.

=====================  ===========================================  ===================
retention (days)       tables                                       written by
=====================  ===========================================  ===================
``minute_days`` 14     ``pulls``, ``pull_clients``                  ``pull``
``hourly_days`` 400    ``pulls_hourly``,                            ``pull``
                       ``pulls_repository_hourly``,
                       ``pulls_total_hourly``
``daily_days`` 0       ``pulls_daily``, ``pulls_repository_daily``, ``pull``, ``push``
                       ``pulls_total_daily``,
                       ``pull_clients_daily``, ``pushes`` (no
                       coarser table: it is its own rollup)
``audit_days`` 0       ``audit_log`` (by ``occurred_at``)           ``other``
=====================  ===========================================  ===================

0 keeps rows forever. A bucket goes once it lies wholly before ``now - days``: the cutoff
is the start of the bucket holding ``now - days``, and rows whose bucket starts before it
are deleted (the bucket at the cutoff is kept). The coarser tables must keep at least as
long as the finer ones (:meth:`RetentionSettings.check`), so that a dashboard range the
minute rows no longer cover always finds an hourly or daily rollup.

:func:`prune` deletes at most ``batch_rows`` rows per transaction, the oldest first (every
primary key starts with the bucket, so they are an index range), by ``rowid`` on SQLite
and by ``ctid`` on PostgreSQL (a TID scan: a batch costs the rows it deletes, not the
table), commits, pauses as long as the batch took, and stops at the first batch that deletes
fewer: no lock is held longer than one batch. ``processed_events`` is not a statistic: it
is the idempotency table, pruned by the store sink after
``REGBRIDGE_CONSUMER_DEDUP_RETENTION_HOURS`` (:mod:`consumers.store.processed`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Executable,
    Table,
    bindparam,
    delete,
    literal_column,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.environ import PREFIX, ConfigError, Environ
from consumers.store.tables import (
    audit_log,
    pull_clients,
    pull_clients_daily,
    pulls,
    pulls_daily,
    pulls_hourly,
    pulls_repository_daily,
    pulls_repository_hourly,
    pulls_total_daily,
    pulls_total_hourly,
    pushes,
)

DEFAULT_BATCH_ROWS = 5000
DAILY_MINIMUM_DAYS = 90  # the lifecycle facts count a tag's pulls over 90 days from pulls_daily
DEFAULT_INTERVAL_S = 600.0
VARIABLES = {
    "minute": "RETENTION_MINUTE_DAYS",
    "hour": "RETENTION_HOURLY_DAYS",
    "day": "RETENTION_DAILY_DAYS",
    "audit": "RETENTION_AUDIT_DAYS",
}


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    """Days each class of table keeps (0: forever), the rows per delete, how often."""

    minute_days: int = 14
    hourly_days: int = 400
    daily_days: int = 0
    audit_days: int = 0
    batch_rows: int = DEFAULT_BATCH_ROWS
    interval_s: float = DEFAULT_INTERVAL_S

    @classmethod
    def from_environ(cls, env: Environ) -> RetentionSettings:
        settings = cls(
            minute_days=env.integer(VARIABLES["minute"], 14, minimum=0),
            hourly_days=env.integer(VARIABLES["hour"], 400, minimum=0),
            daily_days=env.integer(VARIABLES["day"], 0, minimum=0),
            audit_days=env.integer(VARIABLES["audit"], 0, minimum=0),
            batch_rows=env.integer("RETENTION_BATCH_ROWS", DEFAULT_BATCH_ROWS, minimum=1),
            interval_s=env.number("RETENTION_INTERVAL_SECONDS", DEFAULT_INTERVAL_S, minimum=1.0),
        )
        settings.check()
        return settings

    def days(self, grain: str) -> int:
        """The retention of ``grain`` (``minute``, ``hour``, ``day``, ``audit``)."""
        return {
            "minute": self.minute_days,
            "hour": self.hourly_days,
            "day": self.daily_days,
            "audit": self.audit_days,
        }[grain]

    def check(self) -> None:
        """A coarser rollup keeps at least as long as the finer one (0 is the longest), and
        the daily rollups at least :data:`DAILY_MINIMUM_DAYS`."""
        if _shorter(self.daily_days, DAILY_MINIMUM_DAYS):
            raise ConfigError(
                f"{PREFIX}{VARIABLES['day']}={self.daily_days} must be 0 (forever) or at least "
                f"{DAILY_MINIMUM_DAYS}: the tags' pulls over 90 days are counted from the daily rollups"
            )
        for finer, coarser in (("minute", "hour"), ("hour", "day")):
            if _shorter(self.days(coarser), self.days(finer)):
                raise ConfigError(
                    f"{PREFIX}{VARIABLES[coarser]}={self.days(coarser)} is shorter than "
                    f"{PREFIX}{VARIABLES[finer]}={self.days(finer)}: the dashboard's long ranges "
                    "read the coarser rollup, which must keep at least as long (0 keeps forever)"
                )

    def keeps(self, grain: str, since: datetime, now: datetime) -> bool:
        """Whether ``grain``'s rows still cover everything from ``since`` on."""
        days = self.days(grain)
        return days == 0 or since >= now - timedelta(days=days)


def _shorter(days: int, than: int) -> bool:
    if days == 0:
        return False
    return than == 0 or days < than


@dataclass(frozen=True, slots=True)
class Expiry:
    """One table that expires: its rows go by ``column`` (a bucket start or a time)."""

    table: Table
    grain: str  # minute, hour, day (bucket grains) or audit

    @property
    def column(self) -> ColumnElement[datetime]:
        if self.table is audit_log:
            return audit_log.c.occurred_at
        return next(iter(self.table.primary_key.columns))

    def cutoff(self, settings: RetentionSettings, now: datetime) -> datetime | None:
        """Rows before this go; None when the table keeps forever."""
        days = settings.days(self.grain)
        if days == 0:
            return None
        return floor(now - timedelta(days=days), self.grain)


def floor(moment: datetime, grain: str) -> datetime:
    """The start of ``grain``'s bucket holding ``moment`` (``audit``: the moment itself)."""
    if grain == "minute":
        return moment.replace(second=0, microsecond=0)
    if grain == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    if grain == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment


EXPIRING: dict[str, tuple[Expiry, ...]] = {
    "pull": (
        Expiry(pulls, "minute"),
        Expiry(pull_clients, "minute"),
        Expiry(pulls_hourly, "hour"),
        Expiry(pulls_daily, "day"),
        Expiry(pull_clients_daily, "day"),
        Expiry(pulls_repository_hourly, "hour"),
        Expiry(pulls_repository_daily, "day"),
        Expiry(pulls_total_hourly, "hour"),
        Expiry(pulls_total_daily, "day"),
    ),
    "push": (Expiry(pushes, "day"),),
    "other": (Expiry(audit_log, "audit"),),
}
"""The tables each handler writes, hence prunes."""


@dataclass(frozen=True, slots=True)
class Pruned:
    table: str
    rows: int
    batches: int
    seconds: float


_PG_BATCH = (
    # ctid: a TID scan of the chosen rows. Matching the primary key instead made PostgreSQL
    # hash-join the chosen keys against a sequential scan of the whole table, every batch.
    "DELETE FROM {table} WHERE ctid = ANY(ARRAY("
    "SELECT ctid FROM {table} WHERE {column} < :before ORDER BY {column} LIMIT :limit))"
)


async def delete_batch(connection: AsyncConnection, expiry: Expiry, before: datetime, limit: int) -> int:
    """Delete at most ``limit`` of the oldest rows before ``before``; returns how many."""
    table, column = expiry.table, expiry.column
    if connection.dialect.name == "sqlite":
        rowid: ColumnElement[int] = literal_column("rowid")
        chosen = select(rowid).select_from(table).where(column < before).order_by(column).limit(limit)
        statement: Executable = delete(table).where(rowid.in_(chosen.scalar_subquery()))
        result = await connection.execute(statement)
    else:
        sql = _PG_BATCH.format(table=table.name, column=column.name)
        statement = text(sql).bindparams(bindparam("before", type_=DateTime()))
        result = await connection.execute(statement, {"before": before, "limit": limit})
    return int(result.rowcount)


async def prune(
    engine: AsyncEngine,
    expiry: Expiry,
    before: datetime,
    batch_rows: int,
    *,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Pruned:
    """Delete every row of ``expiry`` before ``before``, ``batch_rows`` per transaction.
    Between two batches it pauses as long as the last one took, so that the consumer's own
    transactions (SQLite has one writer at a time) get the store at least half the time."""
    started, rows, batches = time.perf_counter(), 0, 0
    while True:
        batch_started = time.perf_counter()
        async with engine.begin() as connection:
            gone = await delete_batch(connection, expiry, before, batch_rows)
        rows, batches = rows + gone, batches + 1
        if gone < batch_rows:
            break
        await pause(time.perf_counter() - batch_started)
    return Pruned(expiry.table.name, rows, batches, time.perf_counter() - started)
