"""Handing records to Kafka: the :class:`Publisher` interface and :class:`KafkaPublisher`.

Errors::

    PublishFailed        a record was not acknowledged (answered 503 + Retry-After)
    ├── NotConnected     there is no connected producer (yet, or any more)
    └── NotAcknowledged  (bridge.receiver) a body's records were not all acknowledged in
                         time; carries what the body held, for the log line

A ``Publisher`` takes one record at a time and returns an awaitable that completes when
the record is safe. For ``KafkaPublisher`` that is Kafka's acks=all acknowledgement; a
durable spool (a later issue) can implement the same interface and complete once the
record is on disk, so the HTTP side does not change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import BrokerResponseError, KafkaConnectionError, KafkaError

from common.contract import OutgoingRecord
from common.kafka import KafkaClients
from common.retry import Backoff, Retrying, retry

log = logging.getLogger("bridge.publisher")

CONNECT_BACKOFF = Backoff(initial=0.2, maximum=2.0, multiplier=2.5)
PROBE_TIMEOUT = 2.0
SENDER_LOGGER = "aiokafka.producer.sender"
INIT_PRODUCER_ID_ERROR = "Unexpected error during InitProducerIdRequest"  # aiokafka 0.14's wording


class PublishFailed(Exception):
    """A record could not be handed over or was not acknowledged in time."""


class NotConnected(PublishFailed):
    """No producer is connected to the broker (start-up, or after a failure)."""


class Publisher(Protocol):
    """What the receiver needs from whatever stores its records."""

    @property
    def ready(self) -> bool:
        """True while records are likely to be acknowledged quickly (``/readyz``)."""
        ...

    async def start(self) -> None: ...

    async def stop(self, grace: float) -> None: ...

    async def send(self, record: OutgoingRecord) -> asyncio.Future[Any]:
        """Hand over one record. Raises :class:`PublishFailed`; the returned future
        completes when the record is safe, or fails."""
        ...


class KafkaPublisher:
    """Owns one aiokafka producer (acks=all, idempotent when the broker supports it).

    :meth:`start` returns at once: the producer connects in the background and keeps
    retrying while the broker is down (``ready`` stays False and :meth:`send` raises
    :class:`NotConnected`). A probe asks the broker for metadata whenever no record was
    acknowledged lately, so ``ready`` means "the broker answered within
    ``ready_max_age`` seconds".
    """

    def __init__(self, clients: KafkaClients, *, ready_max_age: float = 5.0) -> None:
        self.clients = clients
        self.bootstrap_servers = clients.settings.bootstrap_servers
        self.ready_max_age = ready_max_age
        self.idempotent: bool | None = None  # None until the broker told us
        self._producer: AIOKafkaProducer | None = None
        self._last_answer = float("-inf")
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    @property
    def connected(self) -> bool:
        return self._producer is not None and not self._closing

    @property
    def ready(self) -> bool:
        return self.connected and time.monotonic() - self._last_answer <= self.ready_max_age

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(), name="kafka-producer")]

    async def send(self, record: OutgoingRecord) -> asyncio.Future[Any]:
        producer = self._producer
        if producer is None or self._closing:
            raise NotConnected("not connected to Kafka")
        try:
            ack: asyncio.Future[Any] = await producer.send(
                record.topic, record.value, key=record.key, headers=record.headers
            )
        except KafkaError as exc:
            raise PublishFailed(f"Kafka refused the record: {exc!r}") from exc
        ack.add_done_callback(self._on_ack)
        return ack

    async def stop(self, grace: float) -> None:
        """Flush what is buffered and close, giving up after ``grace`` seconds."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            await asyncio.wait_for(producer.stop(), timeout=max(grace, 0.1))
        except TimeoutError:
            log.warning("Kafka producer did not flush within %.1fs; unsent records are lost", grace)

    def _on_ack(self, ack: asyncio.Future[Any]) -> None:
        if not ack.cancelled() and ack.exception() is None:
            self._last_answer = time.monotonic()

    async def _run(self) -> None:
        """Connect, watch the broker, and start afresh whenever it becomes unreachable."""
        while not self._closing:
            self._producer = await self._connect()
            self._last_answer = time.monotonic()
            log.info(
                "Kafka producer connected",
                extra={"fields": {"bootstrap": self.bootstrap_servers, "idempotent": self.idempotent}},
            )
            await self._watch()
            await self._recycle()

    async def _connect(self) -> AIOKafkaProducer:
        return await retry(
            self._open,
            CONNECT_BACKOFF,
            retry_on=lambda exc: isinstance(exc, KafkaError | OSError),
            on_retry=self._unreachable,
        )

    def _unreachable(self, attempt: Retrying) -> None:
        log.warning(
            "Kafka not reachable, retrying",
            extra={"fields": {"bootstrap": self.bootstrap_servers, "error": repr(attempt.error)}},
        )

    async def _open(self) -> AIOKafkaProducer:
        """An idempotent producer, or a plain one when the broker refuses idempotence (said
        once, at info: it is expected of some brokers, Tansu among them, and safe)."""
        if self.idempotent is not False:
            try:
                with refusal_said_once():
                    producer = await self._started(enable_idempotence=True)
                self.idempotent = True
                return producer
            except BrokerResponseError as exc:
                if exc.retriable:
                    raise
                self.idempotent = False
                log.info(
                    "the broker does not grant idempotent producers; publishing with acks=all "
                    "without idempotence: a send retried after a lost answer may write a record "
                    "twice, and the consumers count it once (by event id)",
                    extra={"fields": {"init_producer_id": type(exc).__name__}},
                )
        return await self._started(enable_idempotence=False)

    async def _started(self, *, enable_idempotence: bool) -> AIOKafkaProducer:
        producer = self.clients.producer(
            "producer", idempotent=enable_idempotence, linger_ms=0, max_batch_size=256 * 1024
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def _watch(self) -> None:
        """Ask the broker for metadata whenever nothing was acknowledged lately; return
        when no broker accepts a connection any more (a slow answer is not enough)."""
        interval = max(0.2, min(1.0, self.ready_max_age / 3))
        while True:
            await asyncio.sleep(interval)
            producer = self._producer
            if producer is None or time.monotonic() - self._last_answer < interval:
                continue
            try:
                await asyncio.wait_for(producer.client.fetch_all_metadata(), PROBE_TIMEOUT)
            except TimeoutError:
                continue
            except (KafkaError, OSError) as exc:
                log.warning("Kafka unreachable; reconnecting", extra={"fields": {"error": repr(exc)}})
                return
            self._last_answer = time.monotonic()

    async def _recycle(self) -> None:
        """Drop the producer: its unacknowledged records fail (their requests already got
        503, and the registry retries them), and a fresh producer starts with fresh
        metadata (a restarted broker may have lost its topics)."""
        producer, self._producer = self._producer, None
        self._last_answer = float("-inf")
        if producer is None:
            return
        await _abort(producer)
        try:
            await asyncio.wait_for(producer.stop(), PROBE_TIMEOUT)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("the old Kafka producer did not stop cleanly", extra={"fields": {"error": repr(exc)}})


class _InitProducerIdRefusal(logging.Filter):
    """aiokafka's own line for a refused InitProducerId, at level error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(INIT_PRODUCER_ID_ERROR)


@contextlib.contextmanager
def refusal_said_once() -> Iterator[None]:
    """While the idempotence probe runs, leave out the error line aiokafka logs when the
    broker refuses InitProducerId: :meth:`KafkaPublisher._open` says it once, at info,
    with what it means. A filter on that one logger, for the probe only, so that any other
    line of aiokafka's still shows."""
    sender = logging.getLogger(SENDER_LOGGER)
    quiet = _InitProducerIdRefusal()
    sender.addFilter(quiet)
    try:
        yield
    finally:
        sender.removeFilter(quiet)


async def _abort(producer: AIOKafkaProducer) -> None:
    """Fail what an unreachable producer still buffers, so that ``stop()`` need not
    flush it. aiokafka has no public abort: stop its sender task first (then nothing
    re-queues a batch), then fail every batch. These are aiokafka internals
    (``_sender.sender_task``, ``_message_accumulator.fail_all``), pinned by the version
    bound in pyproject.toml and by ``tests/test_dependency_internals.py``."""
    task = producer._sender.sender_task
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, KafkaError):
            await task
    producer._message_accumulator.fail_all(KafkaConnectionError("the broker became unreachable"))
