"""The pipeline as separate processes, for the fault tests: ``registry-bridge serve`` on a
fixed port (so it can be killed and started again where the registry expects it), the
``registry-consumer run <handler>`` processes, and the real registry notifying the bridge
through a :class:`RecordingTap`.

What it shares with the end-to-end suite (starting the processes, their environment, the
registry's notifications, :func:`wait_until`) is in ``tests/support/pipeline.py``; this
module keeps what only the faults need.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from common.contract import TopicRouter
from devstack.broker import EmbeddedBroker
from devstack.ports import free_port
from tests.support.figures import Figures, landed_ids
from tests.support.kafka import Landed, consume
from tests.support.load import SteadyLoad
from tests.support.outage import TcpProxy
from tests.support.pipeline import HANDLERS, bridge_process, notifying_registry, pipeline_env
from tests.support.pipeline import running_consumers as pipeline_consumers
from tests.support.processes import ServiceProcess
from tests.support.registry import LocalRegistry
from tests.support.tap import RecordingTap

# the consumers notice a lost store or broker quickly, and retry soon
FAULT_CONSUMER_SETTINGS = {
    "REGBRIDGE_METRICS_HOST": "127.0.0.1",
    "REGBRIDGE_CONSUMER_SESSION_TIMEOUT_MS": "2000",
    "REGBRIDGE_CONSUMER_POLL_TIMEOUT_MS": "100",
    "REGBRIDGE_CONSUMER_RETRY_INITIAL_SECONDS": "0.05",
    "REGBRIDGE_CONSUMER_RETRY_MAX_SECONDS": "0.5",
}


def thaw(broker: EmbeddedBroker) -> None:
    """SIGCONT a broker a test froze with SIGSTOP (nothing when it is gone)."""
    if broker.pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(broker.pid, signal.SIGCONT)


class BridgeProcess:
    """``registry-bridge serve`` on one port for the whole test, restartable after a kill."""

    def __init__(self, bootstrap: str, prefix: str, logs: Path, spool: Path | None, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = {
            **pipeline_env(bootstrap, prefix),
            "REGBRIDGE_SPOOL_DIR": str(spool) if spool else "",
            **env,
        }
        self.process = bridge_process(settings, logs, self.port, ready="/healthz")

    def start(self) -> None:
        self.process.start(timeout=60)

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        self.process.signal(sig)

    def wait_exit(self, within: float = 60.0) -> int:
        return self.process.wait(timeout=within)

    def stop(self) -> None:
        self.process.stop()

    def readyz(self) -> dict[str, object]:
        body = httpx.get(f"{self.url}/readyz", timeout=5).json()
        assert isinstance(body, dict)
        return body

    def metric(self, name: str) -> float:
        """One unlabelled sample of ``/metrics`` (0 when the bridge does not answer)."""
        try:
            text = httpx.get(f"{self.url}/metrics", timeout=5).text
        except httpx.HTTPError:
            return 0.0
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def log_lines(self) -> list[str]:
        path = self.process.log_path
        return path.read_text(errors="replace").splitlines() if path.exists() else []


def tapped_registry(workdir: Path, bridge: BridgeProcess) -> tuple[LocalRegistry, RecordingTap]:
    """A registry notifying ``bridge`` through a recording tap (both started)."""
    tap = RecordingTap(f"{bridge.url}/events")
    tap.start()
    registry = notifying_registry(workdir, tap.url, timeout="5s", threshold=3, backoff="500ms")
    try:
        registry.start()
    except BaseException:
        tap.stop()
        raise
    return registry, tap


@contextmanager
def registry_under_load(
    workdir: Path, bridge: BridgeProcess
) -> Iterator[tuple[LocalRegistry, RecordingTap, SteadyLoad]]:
    """The tapped registry and a started :class:`SteadyLoad`; all stopped on exit."""
    registry, tap = tapped_registry(workdir / "registry", bridge)
    load = SteadyLoad(registry, workdir / "load")
    try:
        load.start()
        yield registry, tap, load
    finally:
        load.halt()
        registry.stop()
        tap.stop()


async def read_back(bootstrap: str, prefix: str, tap: RecordingTap) -> tuple[list[Landed], Figures]:
    """Every record on the prefix's topics, and the counts against what the registry sent."""
    sent = tap.sent_ids()
    records = await consume(
        bootstrap, TopicRouter(prefix=prefix).topics, expect=len(sent), within=60, settle=1.5
    )
    figures = Figures("")
    figures.count(sent, landed_ids(records))
    return records, figures


def unique_events(records: list[Landed]) -> list[dict[str, Any]]:
    """The events of ``records``, one per event id."""
    return list({r.headers["event-id"]: orjson.loads(r.value) for r in records}.values())


def consumer_metric(consumer: ServiceProcess, name: str) -> float:
    """The sum of every sample of ``name`` on a consumer's ``/metrics`` (0 when it does not answer)."""
    assert consumer.ready_url is not None
    try:
        text = httpx.get(consumer.ready_url.replace("/healthz", "/metrics"), timeout=5).text
    except httpx.HTTPError:
        return 0.0
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


class ThreadedProxy:
    """A :class:`~tests.support.outage.TcpProxy` on its own event loop in a thread, so a
    test that blocks (waiting on processes) can still cut and restore the database."""

    def __init__(self, url: str) -> None:
        self.proxy = TcpProxy(url)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="db-proxy", daemon=True)

    @property
    def url(self) -> str:
        return self.proxy.url

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def start(self) -> None:
        self._thread.start()
        self._call(self.proxy.start())

    def cut(self) -> None:
        self._call(self.proxy.begin())

    def restore(self) -> None:
        self._call(self.proxy.end())

    def close(self) -> None:
        self._call(self.proxy.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


@contextmanager
def broker_and_bridge(
    workdir: Path, prefix: str, *, spool: bool = True, **env: str
) -> Iterator[tuple[EmbeddedBroker, BridgeProcess]]:
    """A broker of the test's own (to kill or freeze) and a started bridge on it; on exit the
    bridge is stopped and the broker thawed and stopped."""
    broker = EmbeddedBroker(log_path=workdir / "tansu.log")
    broker.start()
    bridge = BridgeProcess(
        broker.bootstrap_servers, prefix, workdir / "logs", workdir / "spool" if spool else None, **env
    )
    try:
        bridge.start()
        yield broker, bridge
    finally:
        bridge.stop()
        thaw(broker)
        broker.stop()


@contextmanager
def running_consumers(
    bootstrap: str, prefix: str, database_url: str, logs: Path, **env: str
) -> Iterator[dict[str, ServiceProcess]]:
    """The three consumers (:func:`tests.support.pipeline.running_consumers`), each in a
    group of its own and quick to notice a fault; ``env`` adds or overrides settings."""
    common = {**pipeline_env(bootstrap, prefix), **FAULT_CONSUMER_SETTINGS}
    settings = {h: {**common, "REGBRIDGE_CONSUMER_GROUP": f"{prefix}.{h}", **env} for h in HANDLERS}
    with pipeline_consumers(settings, database_url, logs, timeout=60) as consumers:
        yield consumers
