"""The relay process (``registry-consumer run relay``): the single owner of its resources.

Per subscription: one pooled HTTP client, one Kafka consumer in its own group, and one
consumers :class:`~consumers.runner.Runner` whose sink delivers webhooks. Shared: one
producer for dead letters and one metrics server. Subscriptions share nothing that can
block, so a dead receiver stalls only its own runner.

SIGTERM or SIGINT stops every runner: batches in flight finish and commit, and a batch
waiting for a retry is left uncommitted (read again on restart). A second signal cancels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from consumers.deadletter import DeadLetterPublisher
from consumers.errors import Interrupted, is_transient
from consumers.metrics import ConsumerMetrics, MetricsServer
from consumers.rebalance import CommitOnRevoke
from consumers.relay.config import Subscription
from consumers.relay.delivery import WebhookSender
from consumers.relay.handler import HANDLER, RelayHandler, handler_name
from consumers.relay.metrics import RelayMetrics
from consumers.relay.settings import RelaySettings, runner_settings
from consumers.relay.subscriber import SubscriptionRelay
from consumers.runner import Runner

log = logging.getLogger("consumers.relay")
START_RETRY_INITIAL_S, START_RETRY_MAX_S = 0.2, 10.0


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


class RelayProcess:
    """Build it, then ``await run()``; ``request_stop()`` (or SIGTERM with ``signals``) ends it."""

    def __init__(self, settings: RelaySettings) -> None:
        self.settings = settings
        self.metrics = ConsumerMetrics(HANDLER)
        self.relay_metrics = RelayMetrics(self.metrics.registry)
        self.runners: list[Runner] = []
        self._stop = asyncio.Event()
        self.server = MetricsServer(self.metrics, self.health, settings.metrics_host, settings.metrics_port)

    def request_stop(self) -> None:
        self._stop.set()
        for runner in self.runners:
            runner.request_stop()

    def health(self) -> tuple[bool, str]:
        """Healthy while every subscription's runner is."""
        for runner in self.runners:
            ok, detail = runner.health()
            if not ok:
                return False, f"{runner.handler.name}: {detail}"
        return (True, "ok") if self.runners else (not self._stop.is_set(), "starting")

    async def run(self, *, signals: bool = True) -> None:
        if signals:
            self._install_signals()
        if self.settings.metrics_port:
            await self.server.start()
            log.info("metrics", extra={"fields": {"port": self.server.port}})
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.bootstrap_servers, acks="all", enable_idempotence=False
        )
        try:
            await self._until_started("dead-letter producer start", producer.start)
            try:
                await self._relay(producer)
            finally:
                await producer.stop()
        except Interrupted:
            log.info("stopped during start-up")
        finally:
            await self.server.stop()
        log.info("stopped", extra={"fields": {"handler": HANDLER}})

    async def _until_started(self, what: str, start: Callable[[], Awaitable[None]]) -> None:
        """Retry a start-up step while the broker is unreachable; a stop request ends it."""
        delay = START_RETRY_INITIAL_S
        while True:
            try:
                await start()
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning(f"{what} failed, retrying", extra={"fields": {"error": str(exc)[:300]}})
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
                raise Interrupted(what)
            except TimeoutError:
                delay = min(delay * 2, START_RETRY_MAX_S)

    async def _relay(self, producer: AIOKafkaProducer) -> None:
        async with contextlib.AsyncExitStack() as stack:
            for subscription in self.settings.subscriptions:
                runner = await stack.enter_async_context(self._subscription(subscription, producer))
                self.runners.append(runner)
            names = [s.name for s in self.settings.subscriptions]
            log.info("relay started", extra={"fields": {"subscriptions": names}})
            if self._stop.is_set():
                return
            async with asyncio.TaskGroup() as tasks:
                for runner in self.runners:
                    tasks.create_task(runner.run(), name=runner.handler.name)

    @contextlib.asynccontextmanager
    async def _subscription(
        self, subscription: Subscription, producer: AIOKafkaProducer
    ) -> AsyncIterator[Runner]:
        """A ready runner for one subscription; its HTTP client and consumer close on exit."""
        settings, mine = self.settings, self.relay_metrics.of(subscription.name)
        async with WebhookSender(subscription, on_attempt=mine.attempt) as sender:
            consumer = make_consumer(settings, subscription)
            dead_letters = DeadLetterPublisher(
                producer,
                settings.router.dlq_topic,
                handler=HANDLER,
                group=settings.group(subscription),
                extra_headers=[("dlq-subscription", subscription.name.encode())],
            )
            runner = Runner(
                runner_settings(settings, subscription),
                RelayHandler(subscription),
                None,
                consumer,
                dead_letters,
                self.metrics.labelled(handler_name(subscription)),
                sink=SubscriptionRelay(subscription, sender, mine, self._stop),
            )
            consumer.subscribe(
                topics=settings.topics(subscription), listener=CommitOnRevoke(runner.commit_in_flight)
            )
            await self._until_started(f"consumer start ({subscription.name})", consumer.start)
            try:
                yield runner
            finally:
                await consumer.stop()  # leaves the group

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        main_task = asyncio.current_task()

        def on_signal(signum: int) -> None:
            if self._stop.is_set() and main_task is not None:
                log.warning("second signal: exiting now", extra={"fields": {"signal": signum}})
                main_task.cancel()
                return
            log.info("stopping: finishing the batches in flight", extra={"fields": {"signal": signum}})
            self.request_stop()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal, signum)


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
