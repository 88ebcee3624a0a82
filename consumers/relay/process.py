"""The relay process (``registry-consumer run relay``): the single owner of its resources.

Per subscription: one pooled HTTP client, one Kafka consumer in its own group, and one
:class:`~consumers.runner.BatchLoop` whose sink delivers webhooks. Shared: one producer for
dead letters, one metrics server, and one stop request. Every Kafka client comes from the
shared factory (:class:`common.kafka.KafkaClients`), TLS and SASL included. Subscriptions
share nothing that can block, so a dead receiver stalls only its own loop.

SIGTERM or SIGINT stops every loop: batches in flight finish and commit, and a batch
waiting for a retry is left uncommitted (read again on restart). A second signal cancels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaProducer

from common.kafka import KafkaClients
from consumers.deadletter import DeadLetterPublisher
from consumers.errors import Interrupted
from consumers.metrics import ConsumerMetrics
from consumers.metrics_server import MetricsServer
from consumers.process import install_signals
from consumers.rebalance import CommitOnRevoke
from consumers.relay.config import Subscription
from consumers.relay.delivery import WebhookSender
from consumers.relay.metrics import RelayMetrics
from consumers.relay.settings import START_BACKOFF, RelaySettings, loop_settings
from consumers.relay.subscriber import HANDLER, SubscriptionRelay, handler_name
from consumers.runner import BatchLoop, StopRequest, TransientRetry

log = logging.getLogger("consumers.relay")


class RelayProcess:
    """Build it, then ``await run()``; ``request_stop()`` (or SIGTERM with ``signals``) ends it."""

    def __init__(self, settings: RelaySettings) -> None:
        self.settings = settings
        self.clients = KafkaClients(settings.kafka)
        self.metrics = ConsumerMetrics(HANDLER)
        self.relay_metrics = RelayMetrics(self.metrics.registry)
        self.stop = StopRequest()
        self.retrying = TransientRetry(START_BACKOFF, self.stop, self.metrics)
        self.loops: list[BatchLoop] = []
        self.server = MetricsServer(
            self.metrics.registry, self.health, settings.metrics_host, settings.metrics_port
        )

    def request_stop(self) -> None:
        self.stop.set()

    def health(self) -> tuple[bool, str]:
        """Healthy while every subscription's loop is."""
        for loop in self.loops:
            ok, detail = loop.health()
            if not ok:
                return False, f"{loop.name}: {detail}"
        return (True, "ok") if self.loops else (not self.stop.requested, "starting")

    async def run(self, *, signals: bool = True) -> None:
        if signals:
            install_signals(self.stop, "batches")
        if self.settings.metrics_port:
            await self.server.start()
            log.info("metrics", extra={"fields": {"port": self.server.port}})
        producer = self.clients.producer("relay-dlq")
        try:
            await self.retrying("dead-letter producer start", producer.start)
            await self._relay(producer)
        except Interrupted:
            log.info("stopped during start-up")
        finally:
            await producer.stop()
            await self.server.stop()
        log.info("stopped", extra={"fields": {"handler": HANDLER}})

    async def _relay(self, producer: AIOKafkaProducer) -> None:
        async with contextlib.AsyncExitStack() as stack:
            for subscription in self.settings.subscriptions:
                loop = await stack.enter_async_context(self._subscription(subscription, producer))
                self.loops.append(loop)
            names = [s.name for s in self.settings.subscriptions]
            log.info("relay started", extra={"fields": {"subscriptions": names}})
            if self.stop.requested:
                return
            async with asyncio.TaskGroup() as tasks:
                for loop in self.loops:
                    tasks.create_task(loop.run(), name=loop.name)

    @contextlib.asynccontextmanager
    async def _subscription(
        self, subscription: Subscription, producer: AIOKafkaProducer
    ) -> AsyncIterator[BatchLoop]:
        """A ready loop for one subscription; its HTTP client and consumer close on exit."""
        settings, mine = self.settings, self.relay_metrics.of(subscription.name)
        async with WebhookSender(subscription, on_attempt=mine.attempt) as sender:
            consumer = self.clients.consumer(
                f"relay-{subscription.name}",
                group_id=settings.group(subscription),
                auto_offset_reset=settings.auto_offset_reset,
                session_timeout_ms=settings.session_timeout_ms,
                heartbeat_interval_ms=settings.heartbeat_interval_ms,
                max_poll_interval_ms=settings.max_poll_interval_ms,
            )
            dead_letters = DeadLetterPublisher(
                producer,
                settings.router.dlq_topic,
                handler=HANDLER,
                group=settings.group(subscription),
                extra_headers=[("dlq-subscription", subscription.name.encode())],
            )
            metrics = self.metrics.labelled(handler_name(subscription))
            loop = BatchLoop(
                loop_settings(settings, subscription),
                SubscriptionRelay(subscription, sender, mine, self.stop),
                consumer,
                dead_letters,
                metrics,
                self.stop,
                TransientRetry(START_BACKOFF, self.stop, metrics),
            )
            consumer.subscribe(
                topics=settings.topics(subscription), listener=CommitOnRevoke(loop.commit_in_flight)
            )
            try:
                await self.retrying(f"consumer start ({subscription.name})", consumer.start)
                yield loop
            finally:
                await consumer.stop()  # leaves the group


def quiet_http_logs() -> None:
    """httpx logs every request at INFO: one line per delivery is noise (and CPU) here; the
    relay logs one line per batch and one per event given up."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        logger.setLevel(max(logging.WARNING, logging.getLogger().level))


async def run_relay(settings: RelaySettings) -> None:
    """Run the relay until SIGTERM; returns after a clean stop."""
    quiet_http_logs()
    await RelayProcess(settings).run()
