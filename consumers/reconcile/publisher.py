"""Publishing observations to ``<prefix>.reconcile``: :class:`ObservationPublisher`.

It returns once Kafka acknowledged every record (``acks=all``), however long Kafka is
away: a failed attempt drops the producer (a broker that came back may not know it), waits
with backoff and sends again only the records that were not acknowledged. A record whose
outcome is unknown (a timeout after it was sent) may land twice; it carries the same event
id, so the consumers store it once. A stop request ends the wait (``Interrupted``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaProducer

from common.contract import Observation, OutgoingRecord, TopicRouter, encode_observation
from common.retry import Backoff, Retrying, Sleep, retry
from consumers.errors import is_transient

log = logging.getLogger("consumers.reconcile")
PUBLISH_BACKOFF = Backoff(initial=0.5, maximum=10.0)
ProducerFactory = Callable[[], AIOKafkaProducer]


def _retriable(exc: BaseException) -> bool:
    return is_transient(exc) or isinstance(exc, asyncio.TimeoutError)


class ObservationPublisher:
    def __init__(
        self,
        make_producer: ProducerFactory,
        router: TopicRouter,
        pause: Sleep,
        backoff: Backoff = PUBLISH_BACKOFF,
    ) -> None:
        self._make, self.router, self._pause, self.backoff = make_producer, router, pause, backoff
        self._producer: AIOKafkaProducer | None = None
        self.published = 0
        self.failed_attempts = 0

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self._make()
            try:
                await producer.start()
            except BaseException:
                await _stop(producer)
                raise
            self._producer = producer
        return self._producer

    async def _drop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await _stop(producer)

    async def publish(self, observations: Sequence[Observation]) -> None:
        pending: list[OutgoingRecord] = [encode_observation(o, self.router) for o in observations]

        async def attempt() -> None:
            nonlocal pending
            producer = await self._started()
            pending = await _send(producer, pending)
            if pending:
                raise TimeoutError(f"{len(pending)} observations not acknowledged")

        def on_retry(state: Retrying) -> None:
            self.failed_attempts += 1
            fields = {"attempt": state.attempt, "retry_in_s": round(state.delay, 2), "waiting": len(pending)}
            log.warning(
                "Kafka unavailable, retrying", extra={"fields": fields | {"error": str(state.error)[:300]}}
            )

        async def pause(seconds: float) -> None:
            await self._drop()
            await self._pause(seconds)

        total = len(pending)
        await retry(attempt, self.backoff, retry_on=_retriable, on_retry=on_retry, sleep=pause)
        self.published += total

    async def close(self) -> None:
        await self._drop()


async def _send(producer: AIOKafkaProducer, records: Sequence[OutgoingRecord]) -> list[OutgoingRecord]:
    """Send every record; returns those Kafka did not acknowledge. A ``send`` that raises
    (no metadata in time) leaves it and the later ones unacknowledged."""
    futures: list[tuple[OutgoingRecord, asyncio.Future[object]]] = []
    unsent: list[OutgoingRecord] = []
    error: BaseException | None = None
    for n, record in enumerate(records):
        try:
            future = await producer.send(record.topic, record.value, key=record.key, headers=record.headers)
        except Exception as exc:
            unsent, error = list(records[n:]), exc
            break
        futures.append((record, future))
    results = await asyncio.gather(*(f for _, f in futures), return_exceptions=True)
    failed = [
        record for (record, _), result in zip(futures, results, strict=True) if isinstance(result, Exception)
    ]
    if error is not None and not failed and not unsent:
        raise error
    return failed + unsent


async def _stop(producer: AIOKafkaProducer) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(producer.stop(), 5.0)
