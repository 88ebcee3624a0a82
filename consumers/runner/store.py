"""The store sink: one database transaction per batch, exactly once per event id.

In ONE transaction: drop the event ids already processed (``processed_events``), let the
handler ``apply`` the rest, record their ids, the registry instances they came from
(``registry_instances``, :mod:`consumers.store.instances`) and, once a minute, the heartbeat
(:mod:`consumers.runner.heartbeat`); commit. Then the loop commits the offsets. Between
polls without a batch, :meth:`StoreSink.alive` writes the heartbeat on its own.

* Transient errors (the database is down or locked) are retried without moving the
  position (:class:`~consumers.runner.transient.TransientRetry`).
* A database error that is not transient (a constraint the record violates) or a
  :class:`~consumers.handlers.base.HandlerError` raised by ``apply`` splits the batch: each
  record is stored on its own, up to ``max_attempts`` times, and one that still fails
  becomes a dead letter.
* Anything else is a bug in the handler: it propagates, and the loop stops without
  committing, so the batch is read again once the bug is fixed.

Processed ids older than ``dedup_retention_hours`` are pruned every ten minutes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from consumers.deadletter import DeadLetter
from consumers.handlers.base import Delivery, Handler, HandlerError
from consumers.runner.batch import BatchOutcome, Item
from consumers.runner.heartbeat import Clock, Heartbeat, minute_of, now_utc
from consumers.runner.transient import TransientRetry
from consumers.store import processed
from consumers.store.instances import instance_rows, record_instances

PRUNE_EVERY_S = 600.0
# errors a record may cause for good: stored alone, it would fail again (not a handler bug)
RECORD_ERRORS = (DBAPIError, HandlerError)
log = logging.getLogger("consumers.runner")


class StoreSink:
    def __init__(
        self,
        handler: Handler[Any],
        engine: AsyncEngine,
        retrying: TransientRetry,
        *,
        max_attempts: int = 3,
        dedup_retention_hours: float = 168.0,
        clock: Clock = now_utc,
    ) -> None:
        self.handler, self.engine, self.retrying = handler, engine, retrying
        self.name = handler.name
        self.max_attempts = max_attempts
        self.dedup_retention_hours = dedup_retention_hours
        self.heartbeat = Heartbeat(handler.name, clock=clock)
        self._last_prune = 0.0
        self._idle_tried: datetime | None = None  # the minute of the last idle heartbeat attempt

    def plan(self, delivery: Delivery) -> Any:
        return self.handler.plan(delivery)

    async def take(self, items: list[Item]) -> BatchOutcome:
        if not items:
            return BatchOutcome()
        try:
            stored = await self.retrying("store", partial(self._transaction, items))
        except RECORD_ERRORS as exc:
            log.warning("batch failed; storing its records one by one", extra={"fields": {"error": str(exc)}})
            return await self._store_each(items)
        return BatchOutcome(stored=stored, duplicates=len(items) - stored)

    async def _store_each(self, items: list[Item]) -> BatchOutcome:
        outcome = BatchOutcome()
        for item in items:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    stored = await self.retrying("store", partial(self._transaction, [item]))
                except RECORD_ERRORS as exc:
                    if attempt == self.max_attempts:
                        outcome.letters.append(DeadLetter(item.record, exc, attempt))
                    continue
                outcome.stored += stored
                outcome.duplicates += 1 - stored
                break
        return outcome

    async def _transaction(self, items: Sequence[Item]) -> int:
        """Store the items not seen before in one transaction; returns how many."""
        async with self.engine.begin() as connection:
            ids = [item.delivery.event.id for item in items]
            new_ids = await processed.claim(connection, self.handler.name, ids, now_utc())
            fresh: list[Item] = []
            for item in items:
                if item.delivery.event.id in new_ids:
                    new_ids.discard(item.delivery.event.id)  # a repeat within the batch is a duplicate
                    fresh.append(item)
            if fresh:
                await self.handler.apply([item.plan for item in fresh], connection)
                seen = ((item.delivery.event, item.delivery.occurred_at) for item in fresh)
                await record_instances(connection, instance_rows(seen, now_utc()))
            beat = await self.heartbeat.write(connection)
        self.heartbeat.committed(beat)
        return len(fresh)

    async def alive(self) -> None:
        """The broker answers and no batch came: write the heartbeat on its own when it is
        due, trying at most once a minute (a store that is down gets one warning a minute)."""
        minute = minute_of(self.heartbeat.clock())
        if not self.heartbeat.due() or self._idle_tried == minute:
            return
        self._idle_tried = minute
        try:
            async with self.engine.begin() as connection:
                beat = await self.heartbeat.write(connection)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("heartbeat not written", extra={"fields": {"error": str(exc)[:300]}})
            return
        self.heartbeat.committed(beat)

    async def maintain(self) -> None:
        """Forget processed ids past the retention, at most every ``PRUNE_EVERY_S``."""
        hours = self.dedup_retention_hours
        if hours <= 0 or time.monotonic() - self._last_prune < PRUNE_EVERY_S:
            return
        self._last_prune = time.monotonic()
        before = now_utc() - timedelta(hours=hours)
        try:
            async with self.engine.begin() as connection:
                gone = await processed.forget_before(connection, self.handler.name, before)
        except DBAPIError as exc:
            log.warning("pruning processed event ids failed", extra={"fields": {"error": str(exc)[:300]}})
            return
        if gone:
            log.info("pruned processed event ids", extra={"fields": {"rows": gone}})
