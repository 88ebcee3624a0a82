"""The spool from the event loop: concurrent appends keep each group whole."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bridge.spool.asyncspool import AsyncSpool
from bridge.spool.journal import SpoolSettings
from tests.support.spooled import event_id, record


async def test_concurrent_appends_keep_groups_contiguous(tmp_path: Path) -> None:
    spool = await AsyncSpool.open(SpoolSettings(directory=tmp_path), segment_bytes=2048)
    groups = [[record(g * 10 + i) for i in range(3)] for g in range(40)]
    await asyncio.gather(*(spool.append(group) for group in groups))
    found = [event_id(item.record) for item in await spool.peek(max_records=1000)]
    assert sorted(found) == sorted(event_id(r) for g in groups for r in g)
    for start in range(0, len(found), 3):  # each group of three stays together, in order
        group = int(found[start].removeprefix("ev-")) // 10
        assert found[start : start + 3] == [f"ev-{group * 10 + i}" for i in range(3)]
    assert spool.changed.is_set()
    assert await spool.ack(120) == 120
    assert spool.stats().depth == 0
    await spool.close()
