"""One runner for every handler: it owns the poll loop, the transaction, idempotency,
retries, dead letters, offset commits, metrics and the batch log line.

Ack policy: :data:`ACK_POLICY` = ``"commit-after-store"``. For each ``getmany`` batch:

1. decode every record and let the handler ``plan`` it; a record that fails here is
   poison and becomes a dead letter;
2. in ONE database transaction: drop the event ids already processed, ``apply`` the rest,
   record their ids in ``processed_events``; commit;
3. publish the dead letters to ``<prefix>.dlq`` and wait for the acks;
4. commit the Kafka offsets (the next offset of every partition in the batch).

So delivery is at-least-once and storage is exactly-once per event id.

* Transient errors (see :mod:`consumers.errors`) are retried with exponential backoff,
  forever, without moving the position. A stop request interrupts the retry; nothing is
  committed and the batch is redelivered later.
* Any other error in step 2 splits the batch: each record is stored on its own, up to
  ``max_attempts`` times, and a record that still fails is dead-lettered.
* SIGTERM (:meth:`Runner.request_stop`) lets the batch in flight finish and commit;
  the owner then stops the consumer, which leaves the group.
* On a rebalance, :class:`consumers.rebalance.CommitOnRevoke` waits for the batch in flight and commits.

A runner built with a ``sink`` hands each batch's planned items to it instead of step 2
(no database, no event-id deduplication); everything else stays the same. The relay uses
this: its sink delivers webhooks. A sink returns the batch's :class:`BatchOutcome`
(``stored`` counts what it took, ``letters`` what it gave up) and raises ``Interrupted``
when a stop request cuts it short, so that nothing is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from sqlalchemy.ext.asyncio import AsyncEngine

from common.contract import decode_event
from consumers.batch import BatchOutcome, Item, next_offsets, record_time
from consumers.deadletter import DeadLetter, DeadLetterPublisher
from consumers.errors import Interrupted, is_transient
from consumers.handlers.base import Delivery, Handler, parse_timestamp
from consumers.metrics import ConsumerMetrics
from consumers.settings import ConsumerSettings
from consumers.store import processed

ACK_POLICY = "commit-after-store"
BatchSink = Callable[[list[Item]], Awaitable[BatchOutcome]]
PRUNE_EVERY_S = 600.0
T = TypeVar("T")
log = logging.getLogger("consumers.runner")


class Runner:
    """Consumes one topic with one handler. The owner (``consumers.process``) starts and
    stops the consumer, the producer, the engine and the metrics server."""

    def __init__(
        self,
        settings: ConsumerSettings,
        handler: Handler[Any],
        engine: AsyncEngine | None,
        consumer: AIOKafkaConsumer,
        dead_letters: DeadLetterPublisher,
        metrics: ConsumerMetrics,
        *,
        sink: BatchSink | None = None,
    ) -> None:
        if engine is None and sink is None:
            raise ValueError("a runner needs an engine, or a sink instead of the store")
        self.settings, self.handler, self.engine, self.sink = settings, handler, engine, sink
        self.consumer, self.dead_letters, self.metrics = consumer, dead_letters, metrics
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self._uncommitted: dict[TopicPartition, int] = {}
        self._positions: dict[TopicPartition, int] = {}
        self._last_progress = time.monotonic()
        self._last_prune = 0.0
        self._running = False

    # -- lifecycle -------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def health(self) -> tuple[bool, str]:
        if self._stop.is_set():
            return False, "stopping"
        if time.monotonic() - self._last_progress > self.settings.health_stale_s:
            return False, "stale"
        return True, "ok" if self._running else "starting"

    async def run(self) -> None:
        """Poll and process until :meth:`request_stop`; the last batch is committed.

        Pipelined by one batch: while batch N is stored and committed (a task holding
        the lock), batch N+1 is polled and planned. Stores and commits stay in order.
        """
        self._running = True
        in_flight: asyncio.Task[None] | None = None
        try:
            while not self._stop.is_set():
                batches = await self._retrying("poll", self._poll)
                self._last_progress = time.monotonic()
                records = [record for part in batches.values() for record in part]
                if records:
                    started = time.perf_counter()
                    planned = self._plan(records)
                    if in_flight is not None:
                        await in_flight
                    in_flight = asyncio.create_task(self._finish(records, planned, started))
                self._report_lag()
                await self._maybe_prune()
            if in_flight is not None:
                await in_flight
        except Interrupted:
            log.info("stopped while retrying; the batch in flight will be redelivered")
        except asyncio.CancelledError:
            if in_flight is not None:
                in_flight.cancel()
            raise
        finally:
            if in_flight is not None and not in_flight.done():
                with contextlib.suppress(Interrupted):
                    await in_flight
            self._running = False

    async def _poll(self) -> dict[TopicPartition, list[Any]]:
        batches: dict[TopicPartition, list[Any]] = await self.consumer.getmany(
            timeout_ms=self.settings.poll_timeout_ms, max_records=self.settings.batch_max_records
        )
        return batches

    async def commit_in_flight(self) -> None:
        """Wait for the batch in flight, then commit what was stored (on revoke)."""
        async with self._lock:
            await self._commit()

    # -- one batch -------------------------------------------------------------------
    async def _finish(
        self, records: Sequence[Any], planned: tuple[list[Item], list[DeadLetter]], started: float
    ) -> None:
        """Store, dead-letter and commit one planned batch."""
        items, letters = planned
        async with self._lock:
            outcome = await self._store(items)
            outcome.letters[:0] = letters
            if outcome.letters:
                await self._retrying("dead-letter", lambda: self.dead_letters.publish(outcome.letters))
            for tp, offset in next_offsets(records).items():
                self._uncommitted[tp] = max(self._uncommitted.get(tp, 0), offset)
                self._positions[tp] = offset
            await self._commit()
        self._account(records, outcome, time.perf_counter() - started)

    def _plan(self, records: Sequence[Any]) -> tuple[list[Item], list[DeadLetter]]:
        items: list[Item] = []
        letters: list[DeadLetter] = []
        for record in records:
            try:
                event = decode_event(record.value)
                moment = parse_timestamp(event.timestamp) or record_time(record)
                delivery = Delivery(event, moment, record.topic, record.partition, record.offset)
                items.append(Item(record, delivery, self.handler.plan(delivery)))
            except Exception as exc:
                log.warning(
                    "poison record",
                    extra={
                        "fields": self._where(record) | {"error": str(exc), "error_type": type(exc).__name__}
                    },
                )
                letters.append(DeadLetter(record, exc, 1))
        return items, letters

    async def _store(self, items: list[Item]) -> BatchOutcome:
        if not items:
            return BatchOutcome()
        if self.sink is not None:
            return await self.sink(items)
        try:
            stored = await self._retrying("store", lambda: self._transaction(items))
            return BatchOutcome(stored=stored, duplicates=len(items) - stored)
        except Interrupted:
            raise
        except Exception as exc:
            log.warning("batch failed; storing its records one by one", extra={"fields": {"error": str(exc)}})
            return await self._store_each(items)

    async def _store_each(self, items: list[Item]) -> BatchOutcome:
        outcome = BatchOutcome()
        for item in items:
            for attempt in range(1, self.settings.max_attempts + 1):
                try:
                    stored = await self._retrying("store", partial(self._transaction, [item]))
                except Interrupted:
                    raise
                except Exception as exc:
                    if attempt == self.settings.max_attempts:
                        outcome.letters.append(DeadLetter(item.record, exc, attempt))
                    continue
                outcome.stored += stored
                outcome.duplicates += 1 - stored
                break
        return outcome

    async def _transaction(self, items: Sequence[Item]) -> int:
        """Store the items not seen before in one transaction; returns how many."""
        assert self.engine is not None, "a runner without an engine stores through its sink"
        now = datetime.now(UTC).replace(tzinfo=None)
        async with self.engine.begin() as connection:
            ids = [item.delivery.event.id for item in items]
            new_ids = await processed.claim(connection, self.handler.name, ids, now)
            fresh: list[Item] = []
            for item in items:
                if item.delivery.event.id in new_ids:
                    new_ids.discard(item.delivery.event.id)  # a repeat within the batch is a duplicate
                    fresh.append(item)
            if fresh:
                await self.handler.apply([item.plan for item in fresh], connection)
        return len(fresh)

    # -- retries and commits -----------------------------------------------------------
    async def _retrying(self, what: str, action: Callable[[], Awaitable[T]]) -> T:
        """Run ``action``; retry transient errors with capped exponential backoff."""
        delay = self.settings.retry_initial_s
        attempt = 0
        while True:
            attempt += 1
            try:
                return await action()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self.metrics.failed("transient")
                log.warning(
                    f"{what} failed, retrying",
                    extra={
                        "fields": {"attempt": attempt, "retry_in_s": round(delay, 3), "error": str(exc)[:300]}
                    },
                )
            self._last_progress = time.monotonic()
            if await self.stopped_within(delay):
                raise Interrupted(what)
            delay = min(delay * 2, self.settings.retry_max_s)

    async def stopped_within(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True as soon as a stop is requested."""
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _commit(self) -> None:
        if not self._uncommitted:
            return
        offsets = dict(self._uncommitted)
        try:
            await self._retrying("offset commit", lambda: self.consumer.commit(offsets))
        except (CommitFailedError, IllegalStateError) as exc:
            # The partitions moved to another member: it re-reads from the last commit
            # and the event ids make that harmless.
            log.warning("offset commit refused after a rebalance", extra={"fields": {"error": str(exc)}})
        for tp, offset in offsets.items():
            if self._uncommitted.get(tp) == offset:
                del self._uncommitted[tp]

    # -- reporting ---------------------------------------------------------------------
    def _account(self, records: Sequence[Any], outcome: BatchOutcome, elapsed: float) -> None:
        self.metrics.processed(outcome.stored)
        self.metrics.duplicates(outcome.duplicates)
        if outcome.letters:
            self.metrics.failed("permanent", len(outcome.letters))
            self.metrics.dead_lettered(len(outcome.letters))
        self.metrics.batch(elapsed, len(records))
        log.info(
            "batch",
            extra={
                "fields": {
                    "handler": self.handler.name,
                    "records": len(records),
                    "stored": outcome.stored,
                    "duplicates": outcome.duplicates,
                    "dead_lettered": len(outcome.letters),
                    "ms": round(elapsed * 1000, 1),
                }
            },
        )

    def _report_lag(self) -> None:
        for tp in self.consumer.assignment():
            high, done = self.consumer.highwater(tp), self._positions.get(tp)
            if high is not None and done is not None:
                self.metrics.lag(tp.topic, tp.partition, max(0, high - done))

    async def _maybe_prune(self) -> None:
        hours = self.settings.dedup_retention_hours
        if hours <= 0 or self.engine is None or time.monotonic() - self._last_prune < PRUNE_EVERY_S:
            return
        self._last_prune = time.monotonic()
        before = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=hours)
        try:
            async with self._lock, self.engine.begin() as connection:
                gone = await processed.forget_before(connection, self.handler.name, before)
            if gone:
                log.info("pruned processed event ids", extra={"fields": {"rows": gone}})
        except Exception as exc:
            log.warning("pruning processed event ids failed", extra={"fields": {"error": str(exc)}})

    @staticmethod
    def _where(record: Any) -> dict[str, Any]:
        return {"topic": record.topic, "partition": record.partition, "offset": record.offset}
