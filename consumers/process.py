"""One consumer process: the single owner of every long-lived resource (engine, Kafka
consumer and producer, metrics server), started and stopped in ``try``/``finally``.

SIGTERM or SIGINT sets the process's :class:`~consumers.runner.StopRequest`: the batch in
flight is stored and committed, then the consumer stops and leaves the group. A second
signal cancels the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from typing import Any

from common.kafka import KafkaClients
from consumers.deadletter import DeadLetterPublisher
from consumers.errors import Interrupted, StartupFailed
from consumers.handlers import HANDLERS
from consumers.handlers.base import Handler
from consumers.metrics import ConsumerMetrics
from consumers.metrics_server import MetricsServer
from consumers.rebalance import CommitOnRevoke
from consumers.runner import ACK_POLICY, BatchLoop, StopRequest, StoreSink, TransientRetry
from consumers.runner.heartbeat import Clock, now_utc
from consumers.runner.pruning import StatisticsPruner
from consumers.settings import ConsumerSettings
from consumers.store.engine import create_engine, redacted
from consumers.store.startup import open_store

log = logging.getLogger("consumers.process")


def install_signals(stop: StopRequest, what: str) -> None:
    """SIGTERM/SIGINT set ``stop``; a second one cancels the task that called this."""
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()

    def on_signal(signum: int) -> None:
        if stop.requested and main_task is not None:
            log.warning("second signal: exiting now", extra={"fields": {"signal": signum}})
            main_task.cancel()
            return
        log.info(f"stopping: finishing the {what} in flight", extra={"fields": {"signal": signum}})
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)


class ConsumerProcess:
    """Everything one ``registry-consumer run <handler>`` owns. Build it, then ``await
    run()``; ``request_stop()`` (or SIGTERM when ``signals``) ends it cleanly."""

    def __init__(
        self, settings: ConsumerSettings, handler: Handler[Any] | None = None, *, clock: Clock = now_utc
    ) -> None:
        """``clock`` is the heartbeat's (tests pin it)."""
        self.settings = settings
        self.handler = handler or HANDLERS[settings.handler](settings.handler_options)
        self.metrics = ConsumerMetrics(self.handler.name)
        self.stop = StopRequest()
        self.retrying = TransientRetry(settings.backoff, self.stop, self.metrics)
        self.engine = create_engine(settings.database_url, writer=True)
        clients = KafkaClients(settings.kafka)
        self.consumer = clients.consumer(
            f"consumer-{settings.handler}",
            group_id=settings.group,
            auto_offset_reset=settings.auto_offset_reset,
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            rebalance_timeout_ms=max(settings.session_timeout_ms, 10_000),
            max_partition_fetch_bytes=settings.max_partition_fetch_bytes,
        )
        self.producer = clients.producer(f"consumer-{settings.handler}-dlq")
        dlq = DeadLetterPublisher(
            self.producer, settings.router.dlq_topic, handler=self.handler.name, group=settings.group
        )
        sink = StoreSink(
            self.handler,
            self.engine,
            self.retrying,
            max_attempts=settings.max_attempts,
            dedup_retention_hours=settings.dedup_retention_hours,
            clock=clock,
        )
        self.pruner = StatisticsPruner(
            self.handler.name, self.engine, settings.retention, self.metrics, clock=clock
        )
        self.loop = BatchLoop(settings.loop, sink, self.consumer, dlq, self.metrics, self.stop, self.retrying)
        self.server = MetricsServer(
            self.metrics.registry, self.loop.health, settings.metrics_host, settings.metrics_port
        )

    @property
    def start_retries(self) -> int:
        """Start-up steps and batches retried so far (broker or database unreachable)."""
        value = self.metrics.registry.get_sample_value(
            "regbridge_consumer_failed_total", {"handler": self.handler.name, "kind": "transient"}
        )
        return int(value or 0)

    def request_stop(self) -> None:
        self.stop.set()

    async def run(self, *, signals: bool = True) -> None:
        """Run until stopped; the engine is disposed whatever happens."""
        if signals:
            install_signals(self.stop, "batch")
        settings = self.settings
        fields = {
            "handler": self.handler.name,
            "topics": settings.topics,
            "group": settings.group,
            "database": redacted(settings.database_url),
            "ack_policy": ACK_POLICY,
        }
        log.info("starting", extra={"fields": fields})
        try:
            await self._open_store()
            await self._serve()
        except Interrupted:
            log.info("stopped during start-up")
        except StartupFailed:
            raise  # one line, said by the CLI, once the clients below are closed
        except Exception:
            log.exception(
                "stopped by an unexpected error (a bug?); nothing of the failing batch was committed",
                extra={"fields": {"handler": self.handler.name}},
            )
            raise
        finally:
            await self.producer.stop()  # both are no-ops once stopped, or never started
            await self.consumer.stop()
            await self.engine.dispose()
        log.info("stopped", extra={"fields": {"handler": self.handler.name}})

    async def _open_store(self) -> None:
        settings = self.settings
        await open_store(
            self.engine,
            settings.database_url,
            migrating=settings.migrate_on_start,
            within=settings.store_start_timeout_s,
            backoff=settings.backoff,
            sleep=self.stop.pause,
            on_retry=lambda: self.metrics.failed("transient"),
        )

    async def _serve(self) -> None:
        if self.settings.metrics_port:
            try:
                await self.server.start()
            except OSError as exc:  # REGBRIDGE_METRICS_PORT taken: say so, no traceback
                raise StartupFailed(exc.strerror or str(exc)) from None
            log.info("metrics", extra={"fields": {"port": self.server.port}})
        try:
            await self.retrying("dead-letter producer start", self.producer.start)
            self.consumer.subscribe(self.settings.topics, listener=CommitOnRevoke(self.loop.commit_in_flight))
            await self.retrying("consumer start", self.consumer.start)
            pruning = asyncio.create_task(self.pruner.run(self.stop))
            try:
                await self.loop.run()
            finally:
                pruning.cancel()  # a delete batch in flight rolls back: harmless
                with contextlib.suppress(asyncio.CancelledError):
                    await pruning
                await self.consumer.stop()  # leaves the group before the producer goes
        finally:
            await self.server.stop()


GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Process-wide, called once by the CLI before the loop starts: decoding allocates a
    dict per event, and with Python's default thresholds the cyclic collector runs every
    700 allocations, scanning the whole heap on older generations. Freezing the objects
    that exist after start-up (modules, SQLAlchemy metadata) and collecting young objects
    less often cut the consumer's CPU per event by about a quarter in the benchmark."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def run_consumer(settings: ConsumerSettings) -> None:
    """Run one handler until SIGTERM; returns after a clean stop."""
    await ConsumerProcess(settings).run()
