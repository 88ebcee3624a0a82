"""Registry load over time: pulls and pushes per bucket, with bytes, zero-filled.

Pull figures come from the ``pulls`` buckets, push figures from the inventory (see
``activity``), so a point is ``{time, pulls, image_pulls, pushes, bytes_pulled,
bytes_pushed}`` for every bucket of the window, empty ones included.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.dashboard.params import Window, bucket_starts, iso
from consumers.dashboard.queries import pulls as pull_stats
from consumers.dashboard.queries.activity import ActivityFilter, activity, conditions
from consumers.dashboard.queries.buckets import bucket, bucket_time


async def push_series(
    conn: AsyncConnection, span: Window, step: str, repository: str | None
) -> dict[datetime, dict[str, int]]:
    """Pushes and pushed bytes per bucket (only buckets that have any)."""
    rows = activity()
    wanted = ActivityFilter(window=span, action="push", repository=repository)
    start = bucket(conn.dialect.name, step, rows.c.time).label("bucket")
    query = (
        select(start, func.count().label("pushes"), func.coalesce(func.sum(rows.c.size), 0).label("bytes"))
        .where(*conditions(rows, wanted))
        .group_by(start)
    )
    result = await conn.execute(query)
    return {
        bucket_time(r["bucket"]): {"pushes": int(r["pushes"]), "bytes": int(r["bytes"])}
        for r in result.mappings()
    }


async def push_totals(conn: AsyncConnection, span: Window, repository: str | None) -> dict[str, int]:
    """Pushes in the window: all, image manifests, blobs, and bytes."""
    rows = activity()
    wanted = ActivityFilter(window=span, action="push", repository=repository)
    query = select(rows.c.kind, func.count(), func.coalesce(func.sum(rows.c.size), 0))
    query = query.where(*conditions(rows, wanted)).group_by(rows.c.kind)
    by_kind = {kind: (int(n), int(size)) for kind, n, size in (await conn.execute(query)).all()}
    return {
        "count": sum(n for n, _ in by_kind.values()),
        "manifests": by_kind.get("manifest", (0, 0))[0],
        "blobs": by_kind.get("blob", (0, 0))[0],
        "bytes": sum(size for _, size in by_kind.values()),
    }


async def points(
    conn: AsyncConnection, span: Window, step: str, repository: str | None
) -> list[dict[str, Any]]:
    """One point per bucket of the window, oldest first."""
    pulled = await pull_stats.series(conn, pull_stats.PullFilter(span, repository), step)
    pushed = await push_series(conn, span, step, repository)
    none_pulled, none_pushed = {"requests": 0, "manifest_gets": 0, "bytes": 0}, {"pushes": 0, "bytes": 0}
    found = []
    for start in bucket_starts(span, step):
        p, q = pulled.get(start, none_pulled), pushed.get(start, none_pushed)
        found.append(
            {
                "time": iso(start),
                "pulls": p["requests"],
                "image_pulls": p["manifest_gets"],
                "pushes": q["pushes"],
                "bytes_pulled": p["bytes"],
                "bytes_pushed": q["bytes"],
            }
        )
    return found
