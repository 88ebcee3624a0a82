"""Has the store changed? The live page's cheap question, asked every few seconds.

Two lookups the store answers from an index or a tiny table: the latest time a consumer
stored a batch (``max(processed_events.processed_at)``, on its index) and the latest
start of a heartbeat run (``pipeline_uptime``: one row per start or outage of a consumer,
so a consumer that comes back changes it). Everything else the page shows follows from
those two, or from the passing of time, which the page's periodic full refresh covers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.dashboard.params import as_utc, iso
from consumers.store.tables import pipeline_uptime, processed_events


def _stamp(value: datetime | None) -> str | None:
    return iso(as_utc(value)) if value is not None else None


async def latest(conn: AsyncConnection) -> dict[str, Any]:
    """``token`` (opaque; another value means the store changed), ``last_stored_at`` and
    ``pipeline_started_at`` (null before the first batch or heartbeat)."""
    stored = _stamp((await conn.execute(select(func.max(processed_events.c.processed_at)))).scalar_one())
    started = _stamp((await conn.execute(select(func.max(pipeline_uptime.c.started_at)))).scalar_one())
    return {
        "token": f"{stored or '-'}|{started or '-'}",
        "last_stored_at": stored,
        "pipeline_started_at": started,
    }
