"""The relay process: one consumer group, one pooled HTTP client and one poll loop per
subscription, all in one asyncio loop, plus one shared producer for dead letters.

Subscriptions share nothing that can block: a dead receiver stalls only its own loop.
:func:`run_relay` owns every resource and stops them in ``finally`` blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from consumers.relay.config import Subscription
from consumers.relay.deadletters import DeadLetterWriter
from consumers.relay.delivery import WebhookSender
from consumers.relay.metrics import RelayMetrics
from consumers.relay.settings import RelaySettings
from consumers.relay.subscriber import SubscriptionRelay
from consumers.relay.worker import CommitOnRevoke, SubscriptionWorker

log = logging.getLogger("consumers.relay")


def make_consumer(settings: RelaySettings, subscription: Subscription) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=settings.group(subscription),
        client_id=f"regbridge-relay-{subscription.name}-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        auto_offset_reset=settings.auto_offset_reset,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        max_poll_interval_ms=settings.max_poll_interval_ms,
    )


@contextlib.asynccontextmanager
async def open_subscription(
    settings: RelaySettings,
    subscription: Subscription,
    producer: AIOKafkaProducer,
    metrics: RelayMetrics,
    stop: asyncio.Event,
) -> AsyncIterator[SubscriptionWorker]:
    """A ready worker for one subscription; its HTTP client and consumer close on exit."""
    mine = metrics.of(subscription.name)
    async with WebhookSender(subscription, on_attempt=mine.attempt) as sender:
        consumer = make_consumer(settings, subscription)
        group = settings.group(subscription)
        worker = SubscriptionWorker(
            SubscriptionRelay(subscription, sender, mine, stop),
            consumer,
            DeadLetterWriter(
                producer, settings.router.dlq_topic, subscription=subscription.name, group=group
            ),
            mine,
            stop,
            batch_max_records=settings.batch_max_records,
            poll_timeout_ms=settings.poll_timeout_ms,
        )
        consumer.subscribe(topics=settings.topics(subscription), listener=CommitOnRevoke(worker))
        await consumer.start()
        try:
            yield worker
        finally:
            await consumer.stop()


async def run_relay(settings: RelaySettings, metrics: RelayMetrics, stop: asyncio.Event) -> None:
    """Relay every subscription until ``stop`` is set; each finishes its batch first."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=False
    )
    await producer.start()
    try:
        async with contextlib.AsyncExitStack() as stack:
            workers = [
                await stack.enter_async_context(open_subscription(settings, sub, producer, metrics, stop))
                for sub in settings.config.subscriptions
            ]
            log.info("relay started", extra={"fields": {"subscriptions": [w.name for w in workers]}})
            async with asyncio.TaskGroup() as tasks:
                for worker in workers:
                    tasks.create_task(worker.run(), name=f"relay-{worker.name}")
    finally:
        await producer.stop()
