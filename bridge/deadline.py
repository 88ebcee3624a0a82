"""``with Deadline(seconds):``, the time limit of the request path (the body read, handing
records to Kafka).

Its rules are ``asyncio.timeout``'s: at the deadline the task is cancelled, and the
``CancelledError`` leaving the block becomes ``TimeoutError``, unless someone else cancelled the
task too (a shutdown), in which case the cancellation goes on. What differs is the cost: a plain
context manager with one loop timer, where ``asyncio.timeout`` (Python 3.11) runs two
coroutines and an enum state machine. Measured per request under uvloop
(``tests/benchmarks/connection_cost.py --measure callgrind``): 13,000 instructions against
32,000, on each of the two limits every registry request passes through.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class Deadline:
    """Cancels the current task ``delay`` seconds after the block is entered; the block then
    raises ``TimeoutError``. Use it once, inside a task."""

    __slots__ = ("_cancelling", "_delay", "_handle", "_task", "expired")

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self.expired = False

    def __enter__(self) -> Deadline:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Deadline must be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._handle = task.get_loop().call_later(self._delay, self._expire)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._handle.cancel()
        if self.expired and self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc

    def _expire(self) -> None:
        self.expired = True
        self._task.cancel()
