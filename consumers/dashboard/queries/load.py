"""Registry load over time: pulls and pushes per bucket, with bytes, zero-filled.

Pull figures come from the ``pulls`` buckets or their rollups (``pulls.PullFilter``), push
figures from the ``pushes`` buckets (every push event, exact), so a point is ``{time, pulls,
image_pulls, pushes, bytes_pulled, bytes_pushed}`` for every bucket of the window, empty ones included.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.dashboard.params import bucket_starts, iso
from consumers.dashboard.queries import pulls as pull_stats
from consumers.dashboard.queries import pushes as push_stats


async def points(conn: AsyncConnection, wanted: pull_stats.PullFilter, step: str) -> list[dict[str, Any]]:
    """One point per bucket of the window, oldest first."""
    span, repository = wanted.window, wanted.repository
    pulled = await pull_stats.series(conn, wanted, step)
    pushed = await push_stats.series(conn, span, step, repository)
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
