"""What happens to one notification body, independent of HTTP: parse, quarantine, filter,
deduplicate, publish, and wait for every acknowledgement within the publish budget.

The answer is safe to give only when the returned :class:`Outcome` says so: 200/202 means
every record this body produced was acknowledged (or was acknowledged before, for
duplicates), or, with a spool (``bridge.spool.gate``), is fsync'd in the spool;
:class:`NotAcknowledged` (a :class:`~bridge.publisher.PublishFailed`) means the caller must
answer 503.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from bridge.deadline import Deadline
from bridge.dedupe import DedupeWindow
from bridge.filters import EventFilter
from bridge.metrics import BridgeMetrics
from bridge.publisher import Publisher, PublishFailed
from bridge.spool import SpoolGate
from common.contract import (
    DEFAULT_MAX_EVENTS,
    MAX_RECORD_BYTES,
    Event,
    InvalidEnvelope,
    InvalidEvent,
    OutgoingRecord,
    TopicRouter,
    encode_event,
    encode_quarantine,
    parse_envelope,
)


@dataclass(slots=True)
class Outcome:
    """What became of one body; ``status`` is the HTTP answer (200 or 202)."""

    status: int = 200
    event_ids: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    published: int = 0
    spooled: int = 0
    duplicates: int = 0
    filtered: int = 0
    quarantined: int = 0
    error: str | None = None

    @property
    def outcome(self) -> str:
        if self.error and self.quarantined and not self.event_ids:
            return "quarantined"
        if self.spooled:
            return "spooled"
        if self.published:
            return "published"
        if self.duplicates:
            return "duplicate"
        if self.filtered:
            return "filtered"
        return "quarantined" if self.quarantined else "empty"

    def counts(self) -> dict[str, int]:
        counts = {
            "published": self.published,
            "duplicates": self.duplicates,
            "filtered": self.filtered,
            "quarantined": self.quarantined,
        }
        if self.spooled:
            counts["spooled"] = self.spooled
        return counts

    def body(self) -> dict[str, Any]:
        answer: dict[str, Any] = dict(self.counts())
        if self.error:
            answer["error"] = self.error
        return answer


class NotAcknowledged(PublishFailed):
    """Some record of a body was not acknowledged in time; ``outcome`` says what the body
    held (its event ids, for the log line). The caller answers 503."""

    def __init__(self, reason: str, outcome: Outcome) -> None:
        super().__init__(reason)
        self.outcome = outcome


@dataclass(slots=True)
class _Plan:
    """Records to send (with the event id to track, None for quarantine) and acks to join."""

    sends: list[tuple[str | None, OutgoingRecord]] = field(default_factory=list)
    joins: list[asyncio.Future[Any]] = field(default_factory=list)


class Receiver:
    """Turns bodies into acknowledged Kafka records."""

    def __init__(
        self,
        publisher: Publisher,
        router: TopicRouter,
        event_filter: EventFilter,
        dedupe: DedupeWindow,
        metrics: BridgeMetrics,
        budget: float,
        spool: SpoolGate | None = None,
        max_events: int = DEFAULT_MAX_EVENTS,
    ) -> None:
        self.publisher = publisher
        self.router = router
        self.event_filter = event_filter
        self.dedupe = dedupe
        self.metrics = metrics
        self.budget = budget
        self.spool = spool
        self.max_events = max_events

    async def receive(self, body: bytes, source: str = "") -> Outcome:
        """Raises :class:`NotAcknowledged` when a record was not acknowledged in time."""
        outcome = Outcome()
        try:
            return await self._receive(body, source, outcome)
        except PublishFailed as exc:
            outcome.status, outcome.error = 503, str(exc)
            raise NotAcknowledged(str(exc), outcome) from exc

    async def receive_events(self, raw_events: list[Any], source: str = "") -> Outcome:
        """Event objects already parsed (another registry's payload, normalised); like
        :meth:`receive` from there on."""
        outcome = Outcome()
        try:
            await self._deliver(self._plan(raw_events, outcome, source), outcome)
        except PublishFailed as exc:
            outcome.status, outcome.error = 503, str(exc)
            raise NotAcknowledged(str(exc), outcome) from exc
        if outcome.quarantined:
            outcome.status = 202
        return outcome

    async def quarantine(self, body: bytes, reason: str, source: str = "") -> Outcome:
        """``body`` to ``<prefix>.invalid`` with ``reason`` (202 once acknowledged)."""
        outcome = Outcome()
        try:
            return await self._quarantine_body(body, reason, source, outcome)
        except PublishFailed as exc:
            outcome.status, outcome.error = 503, str(exc)
            raise NotAcknowledged(str(exc), outcome) from exc

    async def _receive(self, body: bytes, source: str, outcome: Outcome) -> Outcome:
        try:
            raw_events = parse_envelope(body, self.max_events)
        except InvalidEnvelope as exc:
            return await self._quarantine_body(body, str(exc), source, outcome)
        plan = self._plan(raw_events, outcome, source)
        await self._deliver(plan, outcome)
        if outcome.quarantined:
            outcome.status = 202
        return outcome

    async def _quarantine_body(self, body: bytes, reason: str, source: str, outcome: Outcome) -> Outcome:
        record = encode_quarantine(body, reason, self.router, source)
        await self._deliver(_Plan(sends=[(None, record)]), outcome)
        self.metrics.quarantined.labels("envelope").inc()
        outcome.status, outcome.error, outcome.quarantined = 202, reason, 1
        return outcome

    def _plan(self, raw_events: list[Any], outcome: Outcome, source: str) -> _Plan:
        plan = _Plan()
        sending: set[str] = set()
        for raw in raw_events:
            try:
                event = Event.from_raw(raw)
            except InvalidEvent as exc:
                self._quarantine(orjson.dumps(raw), str(exc), plan, outcome, source)
                continue
            outcome.event_ids.append(event.id)
            self.metrics.count_received(event.action)
            self._classify(event, plan, outcome, sending, source)
        return plan

    def _quarantine(self, payload: bytes, reason: str, plan: _Plan, outcome: Outcome, source: str) -> None:
        plan.sends.append((None, encode_quarantine(payload, reason, self.router, source)))
        outcome.quarantined += 1
        outcome.error = reason
        self.metrics.quarantined.labels("event").inc()

    def _classify(self, event: Event, plan: _Plan, outcome: Outcome, sending: set[str], source: str) -> None:
        reason = self.event_filter.reason_to_drop(event)
        if reason is not None:
            outcome.filtered += 1
            self.metrics.filtered.labels(reason).inc()
            return
        pending = self.dedupe.in_flight(event.id)
        if self.dedupe.published(event.id) or event.id in sending or pending is not None:
            outcome.duplicates += 1
            self.metrics.duplicates.inc()
            if pending is not None:
                plan.joins.append(pending)
            return
        record = encode_event(event, self.router)
        if record.size > MAX_RECORD_BYTES:  # Kafka would refuse it (503 for ever): quarantine it
            reason = f"event record is {record.size} bytes, over {MAX_RECORD_BYTES}"
            self._quarantine(record.value, reason, plan, outcome, source)
            return
        sending.add(event.id)
        plan.sends.append((event.id, record))

    async def _deliver(self, plan: _Plan, outcome: Outcome) -> None:
        if not plan.sends and not plan.joins:
            return
        started = time.perf_counter()
        try:
            if self.spool is not None and self.spool.engaged:
                await self._spool(plan, outcome, started)  # queue behind what waits there
                return
            try:
                await self._acknowledged(await self._send_all(plan), started)
            except PublishFailed:
                if self.spool is None:
                    raise
                await self._spool(plan, outcome, started)
                return
        except PublishFailed:
            self.metrics.publish_failures.inc()
            raise
        self.metrics.publish_latency.observe(time.perf_counter() - started)
        for event_id, record in plan.sends:
            self.metrics.count_published(record.topic)
            if record.topic not in outcome.topics:
                outcome.topics.append(record.topic)
            outcome.published += event_id is not None

    async def _acknowledged(self, acks: list[asyncio.Future[Any]], started: float) -> None:
        """Wait for ``acks`` within what is left of the budget; :class:`PublishFailed` if not."""
        if not acks:
            return
        remaining = self.budget - (time.perf_counter() - started)
        pending = await all_done(acks, max(remaining, 0.0))
        failed = [ack for ack in acks if ack.done() and ack.exception() is not None]
        if pending or failed:
            why = (
                f"{pending} not acknowledged within {self.budget}s"
                if pending
                else repr(failed[0].exception())
            )
            raise PublishFailed(why)

    async def _spool(self, plan: _Plan, outcome: Outcome, started: float) -> None:
        """Keep the envelope's records in the spool (fsync'd), to be drained in order.
        An earlier copy of one of its events still in flight must be acknowledged first."""
        assert self.spool is not None
        await self._acknowledged(plan.joins, started)
        await self.spool.keep([record for _, record in plan.sends])
        for event_id, record in plan.sends:
            if event_id is not None:
                self.dedupe.spooled(event_id)
                outcome.spooled += 1
            if record.topic not in outcome.topics:
                outcome.topics.append(record.topic)

    async def _send_all(self, plan: _Plan) -> list[asyncio.Future[Any]]:
        acks: list[asyncio.Future[Any]] = list(plan.joins)
        try:
            with Deadline(self.budget):
                for event_id, record in plan.sends:
                    ack = await self.publisher.send(record)
                    if event_id is not None:
                        self.dedupe.track(event_id, ack)
                    acks.append(ack)
        except TimeoutError:
            raise PublishFailed(f"records not handed to Kafka within {self.budget}s") from None
        return acks


async def all_done(futures: list[asyncio.Future[Any]], within: float) -> int:
    """Wait until every future is done or ``within`` seconds passed; how many are still pending.

    Like ``asyncio.wait`` (never cancels the futures: a late ack still counts for the
    dedupe window) with less bookkeeping on the hot path.
    """
    pending = [f for f in futures if not f.done()]
    if not pending:
        return 0
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    left = len(pending)

    def one_done(_: asyncio.Future[Any]) -> None:
        nonlocal left
        left -= 1
        if left == 0 and not waiter.done():
            waiter.set_result(None)

    def expire() -> None:
        if not waiter.done():
            waiter.set_result(None)

    for future in pending:
        future.add_done_callback(one_done)
    timer = loop.call_later(within, expire)
    try:
        await waiter
    finally:
        timer.cancel()
        for future in pending:
            future.remove_done_callback(one_done)
    return sum(1 for f in pending if not f.done())
