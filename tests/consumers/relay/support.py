"""Running the relay against the real test broker, with events produced by the contract's encoder."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from common.contract import Event, TopicRouter, encode_event
from common.kafka import KafkaSettings
from consumers.relay.config import RelayConfig, Subscription
from consumers.relay.metrics import RelayMetrics
from consumers.relay.process import RelayProcess
from consumers.relay.settings import RelaySettings
from tests.support.kafka import create_topics, send_records


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
    await create_topics(bootstrap, [topic], partitions)


async def publish(bootstrap: str, prefix: str, events: Sequence[Event]) -> None:
    router = TopicRouter(prefix=prefix)
    await send_records(bootstrap, [encode_event(event, router) for event in events])


def relay_settings(
    bootstrap: str, prefix: str, *subscriptions: Subscription, **overrides: Any
) -> RelaySettings:
    settings = RelaySettings(
        config=RelayConfig(tuple(subscriptions)),
        config_path=Path("relay.yaml"),
        kafka=KafkaSettings(bootstrap),
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
