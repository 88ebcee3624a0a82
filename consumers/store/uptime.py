"""The ``pipeline_uptime`` rows: one per unbroken run of a consumer process's heartbeats.

:class:`consumers.runner.heartbeat.Heartbeat` decides when to write; these are its two
statements. Each is one primary-key write, so a heartbeat costs the store one small
statement a minute per process, and the table grows by one row per start or outage of a
process, not per minute.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.store.tables import pipeline_uptime


async def open_run(connection: AsyncConnection, handler: str, process: str, at: datetime) -> None:
    """A new run of heartbeats, starting (and last seen) at ``at``."""
    row = {"handler": handler, "process": process, "started_at": at, "last_seen_at": at}
    await connection.execute(insert(pipeline_uptime).values(row))


async def extend_run(
    connection: AsyncConnection, handler: str, process: str, started_at: datetime, at: datetime
) -> bool:
    """Move the run's ``last_seen_at`` to ``at``; False when the run is not there (a store
    restored from a backup, say), so the caller opens a new one."""
    u = pipeline_uptime.c
    statement = (
        update(pipeline_uptime)
        .where(u.handler == handler, u.process == process, u.started_at == started_at)
        .values(last_seen_at=at)
    )
    result = await connection.execute(statement)
    return int(result.rowcount) == 1
