"""The ``reconcile_passes`` rows: written by the reconcile process at the start of a pass, as
it goes (every catalog page) and at its end; read by the dashboard."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.store.tables import reconcile_passes

TRIGGERS = ("once", "start", "interval", "restart", "retry")
STATUSES = ("running", "ok", "failed", "interrupted")


async def start_pass(connection: AsyncConnection, row: Mapping[str, Any]) -> None:
    await connection.execute(reconcile_passes.insert().values(**row))


async def update_pass(connection: AsyncConnection, row: Mapping[str, Any]) -> None:
    values = {key: value for key, value in row.items() if key != "id"}
    await connection.execute(
        update(reconcile_passes).where(reconcile_passes.c.id == row["id"]).values(**values)
    )


async def interrupt_running(connection: AsyncConnection, now: datetime) -> int:
    """Passes left ``running`` by a process that died: ``interrupted`` (one reconcile
    process per registry: a new one starts by closing what an old one left)."""
    p = reconcile_passes.c
    result = await connection.execute(
        update(reconcile_passes)
        .where(p.status == "running")
        .values(status="interrupted", finished_at=now, error="the reconcile process stopped during the pass")
    )
    return int(result.rowcount)
