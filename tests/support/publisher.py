"""A real aiokafka implementation of the drainer's ``Publisher`` protocol, for tests.

It starts its producer lazily, and throws the producer away after any failure, so that
a broker that was killed and restarted (and lost its producer state) is met with a
fresh one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from common.contract import OutgoingRecord


class ProducerPublisher:
    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
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
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers, acks="all", request_timeout_ms=5000
            )
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
