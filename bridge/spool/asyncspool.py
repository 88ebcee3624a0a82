"""The spool for the event loop: :class:`AsyncSpool` runs the blocking I/O of
:class:`~bridge.spool.journal.Spool` in a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from bridge.spool.journal import DEFAULT_SEGMENT_BYTES, Spool, Spooled, SpoolSettings, SpoolStats
from common.contract import OutgoingRecord


class AsyncSpool:
    """:class:`Spool` for the event loop: blocking I/O runs in a worker thread.

    ``changed`` is set after every append, so a drainer can wait for work.
    """

    def __init__(self, spool: Spool) -> None:
        self.sync = spool
        self.changed = asyncio.Event()

    @classmethod
    async def open(cls, settings: SpoolSettings, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> AsyncSpool:
        assert settings.directory is not None, "the spool is off"
        spool = await asyncio.to_thread(Spool.open, settings.directory, settings.max_bytes, segment_bytes)
        return cls(spool)

    async def append(self, records: Sequence[OutgoingRecord]) -> int:
        seq = await asyncio.to_thread(self.sync.append, records)
        self.changed.set()
        return seq

    async def peek(self, max_records: int = 500, max_bytes: int = 1024 * 1024) -> list[Spooled]:
        return await asyncio.to_thread(self.sync.peek, max_records, max_bytes)

    async def ack(self, upto_seq: int) -> int:
        return await asyncio.to_thread(self.sync.ack, upto_seq)

    async def set_aside(self, seq: int) -> Path:
        return await asyncio.to_thread(self.sync.set_aside, seq)

    async def close(self) -> None:
        await asyncio.to_thread(self.sync.close)

    def stats(self) -> SpoolStats:
        """Memory only, no lock: safe to call on the event loop."""
        return self.sync.stats()

    @property
    def depth(self) -> int:
        return self.sync.depth
