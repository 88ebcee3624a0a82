"""The spool inside the bridge: :class:`SpoolGate` decides, per envelope, between Kafka
and the spool, and :func:`spooling` owns the spool and its drainer for the app's lifespan.

Rules (``docs/reliability.md``):

* while the spool is not empty (``engaged``), every envelope goes into it, behind what
  is there, so that each repository's events stay in order;
* otherwise the receiver publishes directly, and when Kafka does not acknowledge within
  the publish budget it hands the envelope's records to :meth:`SpoolGate.keep` and
  answers 200;
* a full spool (or a disk error) raises :class:`SpoolRefused`, a
  :class:`~bridge.publisher.PublishFailed`: the endpoint answers 503 + ``Retry-After``;
* at start-up the drainer replays what a previous run left, before anything is
  published directly (the spool is engaged until it is empty).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiokafka.errors import (
    CorruptRecordException,
    InvalidMessageError,
    InvalidTimestampError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from bridge.publisher import Publisher, PublishFailed
from bridge.spool.asyncspool import AsyncSpool
from bridge.spool.drainer import DrainPolicy, PermanentPublishError, SpoolDrainer
from bridge.spool.journal import SpoolError, SpoolFull, SpoolSettings
from common.contract import OutgoingRecord

log = logging.getLogger("bridge.spool")

# Kafka errors that retrying the same record can never cure (not authorization: an
# operator can fix that, and the drainer keeps retrying meanwhile)
PERMANENT = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    InvalidMessageError,
    CorruptRecordException,
    InvalidTimestampError,
)
READY_FILL = 0.9  # with Kafka away, /readyz stays 200 while the spool is below 90 % of its cap


class SpoolRefused(PublishFailed):
    """The spool cannot take this envelope (full, or a disk error): answer 503."""


class AckedBatchPublisher:
    """The drainer's :class:`~bridge.spool.drainer.BatchPublisher` on top of the receiver's
    :class:`~bridge.publisher.Publisher` (one producer for both)."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    async def publish(self, records: Sequence[OutgoingRecord], budget: float) -> None:
        acks: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout(budget):
                for index, record in enumerate(records):
                    acks.append(await self._send(index, record))
                await asyncio.wait(acks)
        except BaseException:
            for ack in acks:  # the batch is retried whole: these outcomes are not needed
                ack.add_done_callback(_consume_outcome)
            raise
        for index, ack in enumerate(acks):
            error = ack.exception()
            if isinstance(error, PERMANENT):
                raise PermanentPublishError(index, repr(error))
            if error is not None:
                raise error

    async def _send(self, index: int, record: OutgoingRecord) -> asyncio.Future[Any]:
        try:
            return await self.publisher.send(record)
        except PublishFailed as exc:
            if isinstance(exc.__cause__, PERMANENT):
                raise PermanentPublishError(index, repr(exc.__cause__)) from exc
            raise


def _consume_outcome(ack: asyncio.Future[Any]) -> None:
    if not ack.cancelled():
        ack.exception()


class SpoolGate:
    """What the receiver, ``/readyz`` and ``/metrics`` see of the spool."""

    def __init__(self, spool: AsyncSpool, drainer: SpoolDrainer) -> None:
        self.spool, self.drainer = spool, drainer
        self.appended = 0  # records
        self.refused = 0  # envelopes

    @property
    def engaged(self) -> bool:
        """True while records wait in the spool: new envelopes must queue behind them."""
        return self.spool.depth > 0

    async def keep(self, records: Sequence[OutgoingRecord]) -> None:
        try:
            await self.spool.append(records)
        except SpoolFull as exc:
            self.refused += 1
            raise SpoolRefused(f"spool full: {exc}") from exc
        except SpoolError as exc:
            self.refused += 1
            log.error("spool append failed", extra={"fields": {"error": str(exc)}})
            raise SpoolRefused(f"spool unavailable: {exc}") from exc
        self.appended += len(records)

    @property
    def has_room(self) -> bool:
        stats = self.spool.stats()
        return stats.bytes < stats.max_bytes * READY_FILL

    def report(self) -> dict[str, Any]:
        """For ``/readyz``."""
        stats = self.spool.stats()
        return {
            "depth": stats.depth,
            "bytes": stats.bytes,
            "max_bytes": stats.max_bytes,
            "oldest_age_seconds": round(stats.oldest_age, 3),
        }

    def register(self, registry: CollectorRegistry) -> None:
        registry.register(SpoolCollector(self))


class SpoolCollector(Collector):
    """Spool metrics, read at scrape time (``docs/configuration.md``)."""

    def __init__(self, gate: SpoolGate) -> None:
        self.gate = gate

    def collect(self) -> Iterator[Metric]:
        stats, counters = self.gate.spool.stats(), self.gate.drainer.counters
        report = self.gate.spool.sync.report
        yield GaugeMetricFamily(
            "regbridge_spool_depth", "Records in the spool, not yet in Kafka", stats.depth
        )
        yield GaugeMetricFamily("regbridge_spool_bytes", "Bytes of the spool's segment files", stats.bytes)
        yield GaugeMetricFamily("regbridge_spool_max_bytes", "REGBRIDGE_SPOOL_MAX_BYTES", stats.max_bytes)
        yield GaugeMetricFamily(
            "regbridge_spool_oldest_age_seconds", "Age of the oldest record in the spool", stats.oldest_age
        )
        yield CounterMetricFamily(
            "regbridge_spool_appended", "Records written to the spool", self.gate.appended
        )
        yield CounterMetricFamily(
            "regbridge_spool_refused", "Envelopes refused (503) by a full spool", self.gate.refused
        )
        yield CounterMetricFamily(
            "regbridge_spool_drained", "Spooled records republished to Kafka", counters.published
        )
        yield CounterMetricFamily(
            "regbridge_spool_drain_failures", "Drain batches that failed and were retried", counters.failures
        )
        yield CounterMetricFamily(
            "regbridge_spool_rejected", "Records Kafka refused for good, set aside", counters.rejected
        )
        quarantined = sum(item.length for item in report.quarantined) + self.gate.spool.sync.set_aside_bytes
        yield GaugeMetricFamily(
            "regbridge_spool_quarantined_bytes",
            "Bytes moved to quarantine/ since start-up: damage found on open, records Kafka refused",
            quarantined,
        )


@asynccontextmanager
async def spooling(settings: SpoolSettings, publisher: Publisher) -> AsyncIterator[SpoolGate | None]:
    """The spool and its drainer while the app runs; None when the spool is off."""
    if settings.directory is None:
        yield None
        return
    try:
        spool = await AsyncSpool.open(settings)
    except (OSError, SpoolError) as exc:
        log.error(
            "cannot open the spool", extra={"fields": {"dir": str(settings.directory), "error": str(exc)}}
        )
        raise
    stats = spool.stats()
    log.info(
        "spool opened",
        extra={"fields": {"dir": str(settings.directory), "depth": stats.depth, "bytes": stats.bytes,
                          "max_bytes": stats.max_bytes, "quarantined": len(spool.sync.report.quarantined)}},
    )  # fmt: skip
    drainer = SpoolDrainer(spool, AckedBatchPublisher(publisher), DrainPolicy())
    drainer.start()
    try:
        yield SpoolGate(spool, drainer)
    finally:
        await drainer.stop()
        await spool.close()
