"""Push statistics: sums of the per-minute ``pushes`` buckets (revision 0003).

Every push event the registry sent is counted once, re-pushes included (a re-tag of the
same manifest, a blob uploaded again); ``bytes`` is the target size of every push. The
inventory keeps only the latest state, so counting pushes there would miss re-pushes;
the list of recent pushes still reads the inventory (see ``activity``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.dashboard.params import Window
from consumers.dashboard.queries.buckets import bucket, bucket_time, within
from consumers.store.tables import pushes


def _conditions(span: Window, repository: str | None) -> list[ColumnElement[bool]]:
    found = [within(pushes.c.minute, span)]
    if repository is not None:
        found.append(pushes.c.repository == repository)
    return found


def _sums() -> list[ColumnElement[Any]]:
    return [
        func.coalesce(func.sum(pushes.c["count"]), 0).label("pushes"),
        func.coalesce(func.sum(pushes.c.bytes), 0).label("bytes"),
    ]


async def series(
    conn: AsyncConnection, span: Window, step: str, repository: str | None
) -> dict[datetime, dict[str, int]]:
    """Pushes and pushed bytes per ``step`` bucket that has any."""
    start = bucket(conn.dialect.name, step, pushes.c.minute).label("bucket")
    query = select(start, *_sums()).where(*_conditions(span, repository)).group_by(start)
    result = await conn.execute(query)
    return {
        bucket_time(r["bucket"]): {"pushes": int(r["pushes"]), "bytes": int(r["bytes"])}
        for r in result.mappings()
    }


async def totals(conn: AsyncConnection, span: Window, repository: str | None) -> dict[str, int]:
    """Pushes in the window: all, image manifests, blobs, and bytes."""
    query = select(pushes.c.kind, *_sums()).where(*_conditions(span, repository)).group_by(pushes.c.kind)
    by_kind = {r["kind"]: (int(r["pushes"]), int(r["bytes"])) for r in (await conn.execute(query)).mappings()}
    return {
        "count": sum(n for n, _ in by_kind.values()),
        "manifests": by_kind.get("manifest", (0, 0))[0],
        "blobs": by_kind.get("blob", (0, 0))[0],
        "bytes": sum(size for _, size in by_kind.values()),
    }
