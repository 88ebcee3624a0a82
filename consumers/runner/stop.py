"""A process's stop request, shared by everything that waits in it.

SIGTERM sets it once; the batch loop then finishes the batch in flight, and every wait
between two attempts (a retry, a webhook backoff) ends at once: :meth:`StopRequest.pause`
raises :class:`~consumers.errors.Interrupted`, so nothing half-done is committed.
"""

from __future__ import annotations

import asyncio

from consumers.errors import Interrupted


class StopRequest:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    async def within(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True as soon as a stop is requested."""
        try:
            await asyncio.wait_for(self._event.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def pause(self, seconds: float) -> None:
        """Sleep ``seconds``; raises :class:`Interrupted` when a stop comes first."""
        if await self.within(seconds):
            raise Interrupted("stop requested")
