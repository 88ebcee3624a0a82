"""Running the relay against the real test broker, with events produced by the contract's encoder."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from common.contract import Event, TopicRouter, encode_event
from consumers.relay.config import RelayConfig, Subscription
from consumers.relay.metrics import RelayMetrics
from consumers.relay.process import RelayProcess
from consumers.relay.settings import RelaySettings


def make_event(number: int, repository: str = "team-a/app", action: str = "push", **target: Any) -> Event:
    raw = {
        "id": f"ev-{number}-{uuid.uuid4().hex[:8]}",
        "action": action,
        "timestamp": "2026-11-29T03:00:00Z",
        "target": {
            "repository": repository,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": f"sha256:{number:064x}",
            "tag": f"v{number}",
            **target,
        },
        "seq": number,
    }
    return Event.from_raw(raw)


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def publish(bootstrap: str, prefix: str, events: Sequence[Event]) -> None:
    router = TopicRouter(prefix=prefix)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        for event in events:
            record = encode_event(event, router)
            await producer.send_and_wait(record.topic, record.value, key=record.key, headers=record.headers)
    finally:
        await producer.stop()


def relay_settings(
    bootstrap: str, prefix: str, *subscriptions: Subscription, **overrides: Any
) -> RelaySettings:
    settings = RelaySettings(
        config=RelayConfig(tuple(subscriptions)),
        config_path=Path("relay.yaml"),
        bootstrap_servers=bootstrap,
        topic_prefix=prefix,
        group_prefix=f"{prefix}.relay.{uuid.uuid4().hex[:6]}",
        metrics_port=0,
        session_timeout_ms=1000,
        poll_timeout_ms=100,
        auto_offset_reset="earliest",
    )
    return replace(settings, **overrides)


@contextlib.asynccontextmanager
async def relay_running(settings: RelaySettings) -> AsyncIterator[RelayMetrics]:
    """The relay in a background task; stopped (and awaited) on exit."""
    process = RelayProcess(settings)
    task = asyncio.create_task(process.run(signals=False))
    try:
        yield process.relay_metrics
    finally:
        process.request_stop()
        await asyncio.wait_for(task, timeout=30)


async def until(check: Callable[[], bool], within: float = 30.0) -> None:
    """Poll ``check`` until it holds (fails the test after ``within`` seconds)."""
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - metrics are sampled, not awaited
            await asyncio.sleep(0.05)


def sample(metrics: RelayMetrics, name: str, subscription: str) -> float:
    value = metrics.registry.get_sample_value(name, {"subscription": subscription})
    return 0.0 if value is None else value
