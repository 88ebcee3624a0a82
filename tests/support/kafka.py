"""Tests talk to the broker through the project's own client factory
(:class:`common.kafka.KafkaClients`), TLS and SASL included when a test passes
``security``: creating topics, writing records the way the bridge writes them, and reading
back what landed, by consuming it (never by end offsets: Tansu under-counts those for
batched produce).

:func:`publish_to_kafka` writes straight to the broker what the bridge would write for
each event (``encode_event`` with the same :class:`TopicRouter`), bypassing the bridge and
so its dedupe window: the tests of redelivery (a duplicate the bridge would hide), poison
records, outages and killed consumers use it, as does the benchmark. The real pipeline
(the bridge in between) is :func:`tests.support.replay.post_session`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic

from common.contract import Event, OutgoingRecord, TopicRouter, encode_event, parse_envelope
from common.kafka import KafkaClients, KafkaSecurity, KafkaSettings


def clients(bootstrap: str, security: KafkaSecurity | None = None) -> KafkaClients:
    settings = KafkaSettings(bootstrap, security or KafkaSecurity(), client_id="test")
    return KafkaClients(settings)


@dataclass(frozen=True)
class Landed:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


async def create_topics(
    bootstrap: str, names: Iterable[str], partitions: int = 1, security: KafkaSecurity | None = None
) -> None:
    admin = clients(bootstrap, security).admin("test-admin")
    await admin.start()
    try:
        topics = [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
        await admin.create_topics(topics)
    finally:
        await admin.close()


async def send_records(
    bootstrap: str, records: Sequence[OutgoingRecord], security: KafkaSecurity | None = None
) -> None:
    producer = clients(bootstrap, security).producer("test-writer", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(r.topic, key=r.key, value=r.value, headers=r.headers) for r in records]
        for future in futures:
            await future
    finally:
        await producer.stop()


def records_for(bodies: Iterable[bytes], router: TopicRouter) -> list[OutgoingRecord]:
    return [encode_event(Event.from_raw(raw), router) for body in bodies for raw in parse_envelope(body)]


async def publish_to_kafka(
    bootstrap: str, prefix: str, bodies: Iterable[bytes], security: KafkaSecurity | None = None
) -> list[OutgoingRecord]:
    """Every event of every body, as the bridge records it, straight to the broker (no
    bridge, so no dedupe: an event sent twice lands twice)."""
    records = records_for(bodies, TopicRouter(prefix=prefix))
    await send_records(bootstrap, records, security)
    return records


async def consume(
    bootstrap: str,
    topics: Iterable[str],
    *,
    expect: int,
    within: float = 15.0,
    settle: float = 0.5,
    security: KafkaSecurity | None = None,
) -> list[Landed]:
    """Every record on ``topics`` from the start: waits for ``expect`` records, then
    ``settle`` seconds more so that extra records are seen too."""
    consumer = clients(bootstrap, security).consumer(
        "test-reader", *topics, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[Landed] = []
    try:
        deadline = time.monotonic() + within
        settle_until: float | None = None
        while time.monotonic() < deadline:
            if len(found) >= expect and settle_until is None:
                settle_until = time.monotonic() + settle
            if settle_until is not None and time.monotonic() >= settle_until:
                break
            batch = await consumer.getmany(timeout_ms=100)
            for records in batch.values():
                found.extend(
                    Landed(r.topic, r.partition, r.offset, r.key, r.value, dict(r.headers)) for r in records
                )
        return found
    finally:
        await consumer.stop()


class ProducerPublisher:
    """The spool drainer's ``BatchPublisher`` on a plain producer, for its tests. It starts
    the producer lazily and throws it away after any failure, so that a broker that was
    killed and restarted (and lost its producer state) is met with a fresh one."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.clients = clients(bootstrap_servers)
        self.calls = 0
        self._producer: AIOKafkaProducer | None = None

    async def publish(self, records: Sequence[OutgoingRecord], budget: float) -> None:
        self.calls += 1
        try:
            async with asyncio.timeout(budget):
                producer = await self._started()
                acks = [await producer.send(r.topic, r.value, key=r.key, headers=r.headers) for r in records]
                await asyncio.gather(*acks)
        except BaseException:
            await self.close()
            raise

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self.clients.producer("test-drainer", request_timeout_ms=5000)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception, TimeoutError):
                await asyncio.wait_for(producer.stop(), 2.0)
