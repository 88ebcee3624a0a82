"""The test broker is real: a record sent is a record read back."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from tests.support.kafka import consume


async def test_broker_round_trip(kafka_bootstrap: str, topic_prefix: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(f"{topic_prefix}.probe", b"hello", key=b"k")
    finally:
        await producer.stop()
    landed = await consume(kafka_bootstrap, [f"{topic_prefix}.probe"], expect=1)
    assert [(r.key, r.value) for r in landed] == [(b"k", b"hello")]
