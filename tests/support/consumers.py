"""Running consumer processes inside a test (in-process task) or as real subprocesses,
and waiting for the store to reach a state (bounded polling, never a timed assertion)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from consumers.handlers.base import Handler
from consumers.process import ConsumerProcess
from consumers.runner.heartbeat import Clock, now_utc
from consumers.settings import ConsumerSettings
from tests.support.database import processed_count
from tests.support.processes import venv_command

T = TypeVar("T")


@asynccontextmanager
async def running(
    settings: ConsumerSettings, handler: Handler[Any] | None = None, *, clock: Clock = now_utc
) -> AsyncIterator[ConsumerProcess]:
    """A consumer running as a task of this event loop; stopped cleanly on exit. ``clock``
    is its heartbeat's (``consumers.runner.heartbeat``)."""
    process = ConsumerProcess(settings, handler, clock=clock)
    task = asyncio.create_task(process.run(signals=False))
    try:
        yield process
    finally:
        process.request_stop()
        await asyncio.wait_for(task, 60)


async def wait_processed(database_url: str, handler: str, count: int, within: float = 90.0) -> int:
    """Wait until ``count`` events are persisted by ``handler``; returns how many are."""
    return await wait_for(lambda: processed_count(database_url, handler), lambda n: n >= count, within=within)


def metric(process: ConsumerProcess, name: str, **labels: str) -> float:
    """A sample of the process's own Prometheus registry (0 when absent)."""
    value = process.metrics.registry.get_sample_value(name, {"handler": process.handler.name, **labels})
    return value or 0.0


async def wait_for(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, within: float = 90.0, every: float = 0.2
) -> T:
    """Poll ``probe`` until ``done(value)`` or ``within`` seconds; returns the last value
    (the caller asserts on it, so a timeout shows what was reached)."""
    deadline = time.monotonic() + within
    value = await probe()
    while not done(value) and time.monotonic() < deadline:
        await asyncio.sleep(every)
        value = await probe()
    return value


def settings_env(settings: ConsumerSettings) -> dict[str, str]:
    """The ``REGBRIDGE_*`` variables that reproduce ``settings`` in a subprocess."""
    return {
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "REGBRIDGE_TOPIC_PREFIX": settings.topic_prefix,
        "REGBRIDGE_CONSUMER_GROUP": settings.group,
        "REGBRIDGE_DATABASE_URL": settings.database_url,
        "REGBRIDGE_METRICS_PORT": str(settings.metrics_port),
        "REGBRIDGE_CONSUMER_BATCH_MAX_RECORDS": str(settings.batch_max_records),
        "REGBRIDGE_CONSUMER_POLL_TIMEOUT_MS": str(settings.poll_timeout_ms),
        "REGBRIDGE_CONSUMER_SESSION_TIMEOUT_MS": str(settings.session_timeout_ms),
        "REGBRIDGE_CONSUMER_RETRY_INITIAL_SECONDS": str(settings.retry_initial_s),
        "REGBRIDGE_CONSUMER_RETRY_MAX_SECONDS": str(settings.retry_max_s),
        "REGBRIDGE_LOG_FORMAT": "json",
    }


def start_cli(settings: ConsumerSettings, log_path: Path) -> subprocess.Popen[bytes]:
    """``registry-consumer run <handler>`` as a real process, output to ``log_path``."""
    command = [venv_command("registry-consumer"), "run", settings.handler]
    env = {**os.environ, **settings_env(settings)}
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_cli(
    process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM, grace: float = 30.0
) -> int:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        return process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait(timeout=grace)
