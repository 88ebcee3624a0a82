"""The shutdown state that the server and the app share.

On the first SIGTERM the server calls :meth:`Lifecycle.begin_drain`: ``/readyz`` and new
``POST /events`` answer 503, requests already in flight finish, and the server stops
once none is left or the grace period is over. The producer is then flushed within what
is left of the grace period. A second signal forces the exit.
"""

from __future__ import annotations

import time


class Lifecycle:
    def __init__(self, grace_period: float) -> None:
        self.grace_period = grace_period
        self.in_flight = 0
        self._drain_deadline: float | None = None

    @property
    def draining(self) -> bool:
        return self._drain_deadline is not None

    def begin_drain(self) -> None:
        if self._drain_deadline is None:
            self._drain_deadline = time.monotonic() + self.grace_period

    def remaining(self) -> float:
        """Seconds left of the grace period (the whole period before draining starts)."""
        if self._drain_deadline is None:
            return self.grace_period
        return max(0.0, self._drain_deadline - time.monotonic())

    @property
    def drained(self) -> bool:
        """True once draining and nothing is in flight, or the grace period is over."""
        return self.draining and (self.in_flight == 0 or self.remaining() <= 0)
