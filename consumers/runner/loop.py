"""The batch loop: one Kafka consumer feeding one :class:`~consumers.runner.sink.Sink`.

Ack policy: :data:`ACK_POLICY` = ``"commit-after-store"``. For each ``getmany`` batch:

1. decode every record and let the sink ``plan`` it; a record that breaks the contract
   (:class:`~common.contract.ContractError`) or that the sink refuses
   (:class:`~consumers.handlers.base.HandlerError`) is poison and becomes a dead letter;
2. the sink ``take``\\ s the planned items (the store: one transaction);
3. the dead letters go to ``<prefix>.dlq``, and the loop waits for the acks;
4. the Kafka offsets are committed (the next offset of every partition in the batch).

So delivery is at-least-once, and the store sink makes storage exactly-once per event id.

* Transient errors (poll, commit, dead letters; the sink's own) are retried with backoff,
  forever, without moving the position. A stop request interrupts the wait; nothing is
  committed and the batch is redelivered later.
* Any other exception (a bug in a handler, say) stops the loop: it propagates, uncommitted,
  and the process exits with an error instead of dead-lettering a whole topic.
* :meth:`BatchLoop.commit_in_flight` finishes the batch in flight and commits, for the
  rebalance listener (:class:`consumers.rebalance.CommitOnRevoke`).

Pipelined by one batch: while batch N is taken and committed (a task holding the lock),
batch N+1 is polled and planned. Takes and commits stay in order.

Between polls the sink may ``maintain`` itself, and hears that it is ``alive`` while the
broker answers (:meth:`BatchLoop.broker_answers`): the store sink's heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from common.contract import ORIGIN_HEADER, ContractError, decode_event, header_value
from common.retry import Backoff
from consumers.deadletter import DeadLetter, DeadLetterPublisher
from consumers.errors import Interrupted
from consumers.handlers.base import Delivery, HandlerError, parse_timestamp
from consumers.metrics import ConsumerMetrics
from consumers.runner.batch import BatchOutcome, Item, next_offsets, record_time
from consumers.runner.sink import Sink
from consumers.runner.stop import StopRequest
from consumers.runner.transient import TransientRetry

ACK_POLICY = "commit-after-store"
POISON = (ContractError, HandlerError)
log = logging.getLogger("consumers.runner")


@dataclass(frozen=True, slots=True)
class LoopSettings:
    batch_max_records: int = 5000
    poll_timeout_ms: int = 500
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=0.2, maximum=10.0))
    health_stale_s: float = 60.0
    fetch_stale_s: float = 15.0  # a partition without a fetch answer this long: the broker is not answering


class BatchLoop:
    """Polls ``consumer`` and hands each batch to ``sink``. The owner (``consumers.process``,
    ``consumers.relay.process``) starts and stops the consumer and the producer behind
    ``dead_letters``."""

    def __init__(
        self,
        settings: LoopSettings,
        sink: Sink,
        consumer: AIOKafkaConsumer,
        dead_letters: DeadLetterPublisher,
        metrics: ConsumerMetrics,
        stop: StopRequest,
        retrying: TransientRetry | None = None,
    ) -> None:
        self.settings, self.sink, self.consumer = settings, sink, consumer
        self.dead_letters, self.metrics, self.stop = dead_letters, metrics, stop
        self.retrying = retrying or TransientRetry(settings.backoff, stop, metrics)
        self._lock = asyncio.Lock()
        self._uncommitted: dict[TopicPartition, int] = {}
        self._positions: dict[TopicPartition, int] = {}
        self._last_poll = time.monotonic()
        self._running = False

    @property
    def name(self) -> str:
        return self.sink.name

    def health(self) -> tuple[bool, str]:
        if self.stop.requested:
            return False, "stopping"
        last_progress = max(self._last_poll, self.retrying.last_attempt)
        if time.monotonic() - last_progress > self.settings.health_stale_s:
            return False, "stale"
        return True, "ok" if self._running else "starting"

    async def run(self) -> None:
        """Poll and take until a stop is requested; the last batch is committed."""
        self._running = True
        in_flight: asyncio.Task[None] | None = None
        try:
            while not self.stop.requested:
                batches = await self.retrying("poll", self._poll)
                self._last_poll = time.monotonic()
                if in_flight is not None and in_flight.done():
                    in_flight.result()  # a batch that failed (a bug) ends the loop here, uncommitted
                    in_flight = None
                records = [record for part in batches.values() for record in part]
                if records:
                    started = time.perf_counter()
                    planned = self._plan(records)
                    if in_flight is not None:
                        await in_flight
                    in_flight = asyncio.create_task(self._finish(records, planned, started))
                self._report_lag()
                await self._maintain()
            if in_flight is not None:
                await in_flight
        except Interrupted:
            log.info("stopped while retrying; the batch in flight will be redelivered")
        finally:
            await _settle(in_flight)
            self._running = False

    async def _poll(self) -> dict[TopicPartition, list[Any]]:
        batches: dict[TopicPartition, list[Any]] = await self.consumer.getmany(
            timeout_ms=self.settings.poll_timeout_ms, max_records=self.settings.batch_max_records
        )
        return batches

    async def commit_in_flight(self) -> None:
        """Wait for the batch in flight, then commit what was taken (on revoke)."""
        async with self._lock:
            await self._commit()

    def _plan(self, records: Sequence[Any]) -> tuple[list[Item], list[DeadLetter]]:
        items: list[Item] = []
        letters: list[DeadLetter] = []
        for record in records:
            try:
                event = decode_event(record.value)
                moment = parse_timestamp(event.timestamp) or record_time(record)
                origin = header_value(record.headers, ORIGIN_HEADER)
                delivery = Delivery(event, moment, record.topic, record.partition, record.offset, origin)
                items.append(Item(record, delivery, self.sink.plan(delivery)))
            except POISON as exc:
                fields = _where(record) | {"error": str(exc), "error_type": type(exc).__name__}
                log.warning("poison record", extra={"fields": fields})
                letters.append(DeadLetter(record, exc, 1))
        return items, letters

    async def _finish(
        self, records: Sequence[Any], planned: tuple[list[Item], list[DeadLetter]], started: float
    ) -> None:
        """Take, dead-letter and commit one planned batch."""
        items, letters = planned
        async with self._lock:
            outcome = await self.sink.take(items) if items else BatchOutcome()
            outcome.letters[:0] = letters
            if outcome.letters:
                await self.retrying("dead-letter", lambda: self.dead_letters.publish(outcome.letters))
            for tp, offset in next_offsets(records).items():
                self._uncommitted[tp] = max(self._uncommitted.get(tp, 0), offset)
                self._positions[tp] = offset
            await self._commit()
        self._account(records, outcome, time.perf_counter() - started)

    async def _commit(self) -> None:
        if not self._uncommitted:
            return
        offsets = dict(self._uncommitted)
        try:
            await self.retrying("offset commit", lambda: self.consumer.commit(offsets))
        except (CommitFailedError, IllegalStateError) as exc:
            # The partitions moved to another member: it re-reads from the last commit
            # and the event ids make that harmless.
            log.warning("offset commit refused after a rebalance", extra={"fields": {"error": str(exc)}})
        for tp, offset in offsets.items():
            if self._uncommitted.get(tp) == offset:
                del self._uncommitted[tp]

    def broker_answers(self) -> bool:
        """This member has partitions, and the broker answered a fetch for every one of them
        within ``fetch_stale_s`` (aiokafka's ``last_poll_timestamp``, wall-clock ms, moves
        with every fetch answer, records or not). ``getmany`` alone returns nothing both
        when the topic is idle and when the broker is down."""
        assigned = self.consumer.assignment()
        if not assigned:
            return False
        oldest = time.time() * 1000 - self.settings.fetch_stale_s * 1000
        stamps = [self.consumer.last_poll_timestamp(tp) for tp in assigned]
        return all(stamp is not None and stamp >= oldest for stamp in stamps)

    async def _maintain(self) -> None:
        async with self._lock:
            await self.sink.maintain()
            if self.broker_answers():
                await self.sink.alive()

    def _account(self, records: Sequence[Any], outcome: BatchOutcome, elapsed: float) -> None:
        self.metrics.processed(outcome.stored)
        self.metrics.duplicates(outcome.duplicates)
        if outcome.letters:
            self.metrics.failed("permanent", len(outcome.letters))
            self.metrics.dead_lettered(len(outcome.letters))
        self.metrics.batch(elapsed, len(records))
        fields = {
            "handler": self.sink.name,
            "records": len(records),
            "stored": outcome.stored,
            "duplicates": outcome.duplicates,
            "dead_lettered": len(outcome.letters),
            "ms": round(elapsed * 1000, 1),
        }
        log.info("batch", extra={"fields": fields})

    def _report_lag(self) -> None:
        for tp in self.consumer.assignment():
            high, done = self.consumer.highwater(tp), self._positions.get(tp)
            if high is not None and done is not None:
                self.metrics.lag(tp.topic, tp.partition, max(0, high - done))


async def _settle(task: asyncio.Task[None] | None) -> None:
    """Let a batch still in flight end (an interrupted one stays uncommitted); cancel it when
    the loop itself was cancelled."""
    if task is None or task.done():
        return
    current = asyncio.current_task()
    if current is not None and current.cancelling():
        task.cancel()
    with contextlib.suppress(Interrupted, asyncio.CancelledError):
        await task


def _where(record: Any) -> dict[str, Any]:
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset}
