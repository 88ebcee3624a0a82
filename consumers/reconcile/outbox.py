"""Between a scan and Kafka: :class:`Outbox`. Each observation waits ``settle`` seconds (real
events in flight through the bridge and the consumers land meanwhile), is checked again
against the store as it is then (:func:`consumers.handlers.observed.decide`, as the
consumers will decide), and goes out only when it still repairs something. What went
out is counted by repair kind.

A background task does the waiting and publishing, so the scan goes on meanwhile; when
``max_pending`` observations wait (Kafka down, or slower than the scan), the scan waits
too. An error of that task (a stop request, the store gone) is raised by the next
:meth:`Outbox.put` or by :meth:`Outbox.close`.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from common.contract import Observation
from consumers.handlers.base import parse_timestamp
from consumers.handlers.observed import ObservedPlan, decide
from consumers.reconcile.publisher import ObservationPublisher
from consumers.store.observed import current_rows

BATCH = 1000


def observed_at(observation: Observation) -> datetime:
    moment = parse_timestamp(observation.timestamp)
    assert moment is not None, "observations are made with a timestamp"
    return moment


class Outbox:
    def __init__(
        self,
        engine: AsyncEngine,
        publisher: ObservationPublisher,
        settle: float,
        *,
        max_pending: int = 2 * BATCH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine, self.publisher, self.settle, self.clock = engine, publisher, settle, clock
        self.max_pending = max_pending
        self._pending: deque[tuple[float, Observation]] = deque()
        self._more = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.repairs: Counter[str] = Counter()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="reconcile-outbox")

    def _raise_if_failed(self) -> None:
        if self._task is not None and self._task.done():
            self._task.result()
            raise RuntimeError("the outbox stopped early")

    async def put(self, observations: Sequence[Observation]) -> None:
        for observation in observations:
            while len(self._pending) >= self.max_pending:
                self._raise_if_failed()
                await asyncio.sleep(0.05)
            self._raise_if_failed()
            self._pending.append((self.clock() + self.settle, observation))
        self._more.set()

    async def close(self) -> None:
        """Publish what waits (each after its settle time), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._closing = True
        self._more.set()
        await task

    async def abort(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._more.clear()
                await self._more.wait()
                continue
            wait = self._pending[0][0] - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            batch: list[Observation] = []
            while self._pending and len(batch) < BATCH and self._pending[0][0] <= self.clock():
                batch.append(self._pending.popleft()[1])
            await self._send(batch)

    async def _send(self, batch: list[Observation]) -> None:
        plans = [ObservedPlan(o, observed_at(o)) for o in batch]
        async with self.engine.connect() as connection:
            rows = await current_rows(connection, [p.key for p in plans], lock=False)
        repairs = decide(plans, rows)
        chosen = {id(r.plan.observation) for r in repairs}
        out = [o for o in batch if id(o) in chosen]
        if out:
            await self.publisher.publish(out)
            self.repairs.update(r.kind for r in repairs)
