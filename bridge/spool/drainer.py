"""Republishing the spool to Kafka: :class:`SpoolDrainer`, against a small
:class:`BatchPublisher` protocol so that it runs with any producer.

The drainer is one background task. While the spool holds records it takes the oldest
batch, publishes it, and acknowledges it in the spool once the publisher returned; when
publishing fails it waits (the policy's :class:`~common.retry.Backoff`) and tries the same
batch again, so it resumes as soon as Kafka is back. It keeps spool order, hence the
order of every repository's events, as long as the caller also keeps this rule: **while
the spool is not empty, new records go into the spool, behind what is there**, never
straight to Kafka. ``depth`` falls to 0 only after the last batch is acknowledged, so
"spool empty" is a safe test for publishing directly again.

A batch that failed part-way is published again whole: records carry their event id,
and downstream deduplicates on it (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bridge.spool.asyncspool import AsyncSpool
from bridge.spool.journal import Spooled
from common.contract import OutgoingRecord
from common.retry import Backoff, Retrying, retry

log = logging.getLogger("bridge.spool.drainer")
LOG_EVERY = 30.0  # seconds between two "spool drain failed" lines of one outage


class PermanentPublishError(Exception):
    """Kafka will never take ``records[index]`` (too large, invalid): retrying cannot help.

    The drainer publishes the records before it, then sets it aside in ``quarantine/``
    (``regbridge_spool_rejected_total``, an error log line) so that it blocks nothing."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index


class BatchPublisher(Protocol):
    """Publishes records and returns once every one is acknowledged.

    It raises (any exception) when that did not happen within ``budget`` seconds, and
    :class:`PermanentPublishError` for a record Kafka refuses for good. The records of
    one key must land in the order given.
    """

    async def publish(self, records: Sequence[OutgoingRecord], budget: float) -> None: ...


@dataclass(frozen=True, slots=True)
class DrainPolicy:
    batch_records: int = 500
    batch_bytes: int = 1024 * 1024
    budget: float = 10.0  # seconds for one batch to be acknowledged
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=0.1, maximum=2.0))


@dataclass(slots=True)
class DrainCounters:
    published: int = 0  # records acknowledged by Kafka and by the spool
    batches: int = 0
    failures: int = 0  # batches that failed and will be retried
    rejected: int = 0  # records Kafka refused for good, set aside in quarantine/
    last_error: str | None = None


class SpoolDrainer:
    """Empties ``spool`` into ``publisher`` in order; :meth:`start` and :meth:`stop` it."""

    def __init__(
        self, spool: AsyncSpool, publisher: BatchPublisher, policy: DrainPolicy | None = None
    ) -> None:
        self.spool, self.publisher = spool, publisher
        self.policy = policy or DrainPolicy()
        self.counters = DrainCounters()
        self._task: asyncio.Task[None] | None = None
        self._empty = asyncio.Event()
        self._logged_at = float("-inf")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="spool-drainer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def wait_empty(self) -> None:
        """Return once the spool has been drained (at once when it is empty)."""
        while self.spool.depth:
            self._empty.clear()
            if self.spool.depth:
                await self._empty.wait()

    async def run(self) -> None:
        while True:
            if not self.spool.depth:
                self._empty.set()
                await self._wait_for_records()
                continue
            # a boundary: whatever publishing raised, the same batch is tried again
            await retry(self.drain_batch, self.policy.backoff, on_retry=self._failed)

    async def _wait_for_records(self) -> None:
        self.spool.changed.clear()
        if not self.spool.depth:
            await self.spool.changed.wait()

    async def drain_batch(self) -> int:
        """Publish and acknowledge the oldest batch; the number of records it held."""
        batch = await self.spool.peek(self.policy.batch_records, self.policy.batch_bytes)
        if not batch:
            return 0
        try:
            await self.publisher.publish([item.record for item in batch], self.policy.budget)
        except PermanentPublishError as exc:
            if exc.index == 0:
                await self._set_aside(batch[0], str(exc))
                return 1
            batch = batch[: exc.index]  # publish what precedes it; it is the head next round
            await self.publisher.publish([item.record for item in batch], self.policy.budget)
        await self.spool.ack(batch[-1].seq)
        self.counters.published += len(batch)
        self.counters.batches += 1
        if not self.spool.depth:
            self._logged_at = float("-inf")  # the next outage is logged at once
            log.info("spool drained", extra={"fields": self._fields()})
        return len(batch)

    async def _set_aside(self, item: Spooled, reason: str) -> None:
        target = await self.spool.set_aside(item.seq)
        self.counters.rejected += 1
        event_id = dict(item.record.headers).get("event-id", b"").decode(errors="replace")
        fields = {"seq": item.seq, "topic": item.record.topic, "event_id": event_id}
        log.error(
            "Kafka refused a spooled record for good; set aside",
            extra={"fields": {**fields, "reason": reason, "file": str(target)}},
        )

    def _failed(self, attempt: Retrying) -> None:
        """Count every failure; log the first, then one line per ``LOG_EVERY`` seconds."""
        self.counters.failures += 1
        self.counters.last_error = repr(attempt.error)
        delay = round(attempt.delay, 3)
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY:
            self._logged_at = now
            log.warning(
                "spool drain failed; retrying", extra={"fields": {**self._fields(), "retry_in": delay}}
            )

    def _fields(self) -> dict[str, object]:
        stats = self.spool.stats()
        return {
            "depth": stats.depth,
            "bytes": stats.bytes,
            "oldest_age_s": round(stats.oldest_age, 3),
            "published": self.counters.published,
            "failures": self.counters.failures,
            "error": self.counters.last_error,
        }
