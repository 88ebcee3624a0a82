"""The poll loop of one subscription: its own consumer group, batch by batch.

For each ``getmany`` batch: relay it (:class:`~consumers.relay.subscriber.SubscriptionRelay`),
write the dead letters and wait for their acks, then commit the offsets (at-least-once:
a crash before the commit resends the batch, and receivers deduplicate on
``X-Registry-Event-Id``). A stop request during a retry wait leaves the batch uncommitted.
Kafka trouble while writing dead letters or committing is retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from consumers.relay.deadletters import DeadLetterWriter
from consumers.relay.errors import DeliveryStopped
from consumers.relay.metrics import SubscriptionMetrics
from consumers.relay.subscriber import Outcome, SubscriptionRelay

T = TypeVar("T")
log = logging.getLogger("consumers.relay")
RETRY_INITIAL_S, RETRY_MAX_S = 0.2, 10.0


def next_offsets(records: Sequence[Any]) -> dict[TopicPartition, int]:
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
    return offsets


class SubscriptionWorker:
    """Runs one subscription until ``stop`` is set. The owner starts and stops the consumer."""

    def __init__(
        self,
        relay: SubscriptionRelay,
        consumer: AIOKafkaConsumer,
        dead_letters: DeadLetterWriter,
        metrics: SubscriptionMetrics,
        stop: asyncio.Event,
        *,
        batch_max_records: int = 100,
        poll_timeout_ms: int = 500,
    ) -> None:
        self.relay, self.consumer, self.dead_letters = relay, consumer, dead_letters
        self.metrics, self._stop = metrics, stop
        self._batch_max, self._poll_ms = batch_max_records, poll_timeout_ms
        self._lock = asyncio.Lock()
        self._positions: dict[TopicPartition, int] = {}

    @property
    def name(self) -> str:
        return self.relay.subscription.name

    async def run(self) -> None:
        """Poll and relay until the stop event; the batch in flight finishes or is left uncommitted."""
        try:
            while not self._stop.is_set():
                batches = await self.consumer.getmany(timeout_ms=self._poll_ms, max_records=self._batch_max)
                records = [record for part in batches.values() for record in part]
                if records:
                    async with self._lock:
                        await self._process(records)
                self._report_lag()
        except DeliveryStopped as exc:
            log.info(
                "stopped while retrying; the batch will be read again", extra={"fields": {"error": str(exc)}}
            )

    async def _process(self, records: Sequence[Any]) -> None:
        started = time.perf_counter()
        try:
            outcome = await self.relay.relay(records)
        except DeliveryStopped as exc:
            log.info(
                "stopped while retrying; the batch will be read again", extra={"fields": {"error": str(exc)}}
            )
            return
        if outcome.letters:
            await self._retrying("dead-letter", lambda: self.dead_letters.publish(outcome.letters))
        offsets = next_offsets(records)
        await self._commit(offsets)
        self._positions.update(offsets)
        self._log_batch(records, outcome, time.perf_counter() - started)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            await self._retrying("offset commit", lambda: self.consumer.commit(offsets))
        except (CommitFailedError, IllegalStateError) as exc:
            # the partitions moved to another member, which reads them again from the last commit
            log.warning("offset commit refused after a rebalance", extra={"fields": {"error": str(exc)}})

    async def _retrying(self, what: str, action: Callable[[], Awaitable[T]]) -> T:
        """Retry retriable Kafka errors with capped backoff; a stop request ends the wait."""
        delay = RETRY_INITIAL_S
        while True:
            try:
                return await action()
            except KafkaError as exc:
                if not getattr(exc, "retriable", False):
                    raise
                log.warning(f"{what} failed, retrying", extra={"fields": {"error": str(exc)[:300]}})
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
                raise DeliveryStopped(f"stopped while retrying the {what}")
            except TimeoutError:
                delay = min(delay * 2, RETRY_MAX_S)

    async def commit_in_flight(self) -> None:
        """Wait for the batch in flight (it commits itself); used on revoke."""
        async with self._lock:
            return

    def _report_lag(self) -> None:
        for tp in self.consumer.assignment():
            high, done = self.consumer.highwater(tp), self._positions.get(tp)
            if high is not None and done is not None:
                self.metrics.lag(tp.topic, tp.partition, max(0, high - done))

    def _log_batch(self, records: Sequence[Any], outcome: Outcome, elapsed: float) -> None:
        fields = {
            "subscription": self.name,
            "records": len(records),
            "delivered": outcome.delivered,
            "skipped": outcome.skipped,
            "dead_lettered": len(outcome.letters),
            "ms": round(elapsed * 1000, 1),
        }
        log.info("relay batch", extra={"fields": fields})


class CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets the batch in flight finish and commit before partitions move."""

    def __init__(self, worker: SubscriptionWorker) -> None:
        self._worker = worker

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._worker.commit_in_flight()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info(
            "partitions assigned",
            extra={"fields": {"subscription": self._worker.name, "partitions": sorted(map(str, assigned))}},
        )
