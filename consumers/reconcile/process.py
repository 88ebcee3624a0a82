"""``registry-consumer run reconcile``: the long-running reconcile, the single owner of its
resources (the store's engine, the registry client, the Kafka producer, the metrics server).

It reconciles at start, then every ``REGBRIDGE_RECONCILE_INTERVAL_SECONDS``, and at once
when the consumers record a new registry instance id (a restart: the events pending in
the old instance are lost). A failed pass is tried again with backoff (5 s doubling to
5 min), from the catalog page where it stopped. ``/healthz`` answers 200 while the
process runs (a registry that is down is a failed pass, not an unhealthy process; watch
``regbridge_reconcile_last_success_timestamp_seconds`` for that) and 503 once it stops.

SIGTERM or SIGINT stops it: the pass in flight ends where it is (what was published stays
published; the pass row says ``interrupted``). A second signal cancels at once.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import DBAPIError

from common.kafka import KafkaClients
from common.retry import Backoff, retry
from consumers.errors import Interrupted, is_transient
from consumers.metrics_server import MetricsServer
from consumers.process import install_signals
from consumers.reconcile.metrics import ReconcileMetrics
from consumers.reconcile.passes import ReconcilePass
from consumers.reconcile.progress import quiet_progress
from consumers.reconcile.publisher import ObservationPublisher, ProducerFactory
from consumers.reconcile.scan import utc_now
from consumers.reconcile.settings import ReconcileSettings
from consumers.reconcile.summary import PassSummary
from consumers.reconcile.watch import RestartWatcher
from consumers.registry_api import RegistryClient
from consumers.runner import StopRequest
from consumers.store import migrate, pass_rows
from consumers.store.engine import create_engine, redacted

log = logging.getLogger("consumers.reconcile")
START_BACKOFF = Backoff(initial=0.2, maximum=10.0)


def producer_factory(clients: KafkaClients) -> ProducerFactory:
    """Producers for the observations: a short request timeout, so a broker that is away is
    noticed in seconds and retried (:class:`ObservationPublisher`)."""
    return lambda: clients.producer("reconcile", request_timeout_ms=10_000, linger_ms=20)


class ReconcileProcess:
    """Build it, then ``await run()``; ``request_stop()`` (or SIGTERM with ``signals``) ends it."""

    def __init__(self, settings: ReconcileSettings) -> None:
        self.settings = settings
        self.metrics = ReconcileMetrics()
        self.stop = StopRequest()
        self.engine = create_engine(settings.database_url, writer=True)
        self.publisher = ObservationPublisher(
            producer_factory(KafkaClients(settings.kafka)), settings.router, self.stop.pause
        )
        self.client = RegistryClient(settings.registry, observer=self.metrics.request)
        self.watcher = RestartWatcher(self.engine)
        self.server = MetricsServer(
            self.metrics.registry, self.health, settings.metrics_host, settings.metrics_port
        )
        self.passes: list[PassSummary] = []  # the latest few, newest last
        self._state = "starting"

    def health(self) -> tuple[bool, str]:
        if self.stop.requested:
            return False, "stopping"
        return True, self._state

    def request_stop(self) -> None:
        self.stop.set()

    async def run(self, *, signals: bool = True) -> None:
        if signals:
            install_signals(self.stop, "pass")
        settings = self.settings
        fields = {"registry": settings.registry.url, "topic": settings.router.reconcile_topic}
        log.info("starting", extra={"fields": fields | {"database": redacted(settings.database_url)}})
        try:
            await self._prepare()
            if settings.metrics_port:
                await self.server.start()
                log.info("metrics", extra={"fields": {"port": self.server.port}})
            await self._loop()
        except Interrupted:
            log.info("stopped")
        except Exception:
            log.exception("stopped by an unexpected error (a bug?)")
            raise
        finally:
            await self.server.stop()
            await self.publisher.close()
            await self.client.aclose()
            await self.engine.dispose()

    async def _prepare(self) -> None:
        async def prepare() -> None:
            if self.settings.migrate_on_start:
                await migrate.upgrade(self.engine)
            async with self.engine.begin() as connection:
                await pass_rows.interrupt_running(connection, utc_now())
            await self.watcher.baseline()

        await retry(prepare, START_BACKOFF, retry_on=is_transient, sleep=self.stop.pause)

    async def one_pass(self, trigger: str, resume_after: str | None = None) -> PassSummary:
        self.metrics.running.set(1)
        self._state = f"pass running ({trigger})"
        try:
            reconcile = ReconcilePass(
                self.client,
                self.engine,
                self.publisher,
                trigger=trigger,
                settle=self.settings.settle_s,
                progress=quiet_progress(),
                resume_after=resume_after,
            )
            summary = await reconcile.run()
        finally:
            self.metrics.running.set(0)
        self.metrics.pass_ended(summary)
        self.passes = [*self.passes[-9:], summary]
        self._state = f"last pass {summary.status}"
        return summary

    async def _loop(self) -> None:
        trigger, resume, failures = "start", None, 0
        while not self.stop.requested:
            summary = await self.one_pass(trigger, resume)
            if summary.status == "ok":
                failures, resume, wait = 0, None, self.settings.interval_s
            else:
                failures, resume = failures + 1, summary.resume_after
                wait = self.settings.retry.delay(failures)
                log.info(
                    "the pass will be tried again", extra={"fields": {"in_s": round(wait, 1), "from": resume}}
                )
            next_trigger = await self._next(wait, failed=summary.status != "ok")
            if next_trigger is None:
                return
            trigger = next_trigger
            if trigger == "restart":
                resume = None  # events may be lost anywhere: a whole pass

    async def _next(self, wait: float, *, failed: bool) -> str | None:
        """Wait for the next pass; its trigger, or None on a stop request."""
        deadline = time.monotonic() + wait
        while not self.stop.requested:
            try:
                found = await self.watcher.new_instances()
            except (DBAPIError, OSError) as exc:
                log.warning(
                    "the store could not be read for restarts", extra={"fields": {"error": str(exc)[:300]}}
                )
                found = []
            if found:
                self.metrics.restarts.inc(len(found))
                return "restart"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "retry" if failed else "interval"
            if await self.stop.within(min(self.settings.watch_s, remaining)):
                return None
        return None


async def run_reconcile(settings: ReconcileSettings) -> None:
    """Run until SIGTERM; returns after a clean stop."""
    await ReconcileProcess(settings).run()
