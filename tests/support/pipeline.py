"""The whole pipeline as an operator runs it: the bridge (``registry-bridge serve``) and the
three consumers (``registry-consumer run push|pull|other``) as separate processes, and a real
``docker-registry`` with htpasswd auth whose notifications carry the bridge's bearer token.

The pieces are shared by the end-to-end suite and the fault suite
(``tests/faults/support.py`` adds what only faults need: the tap, the database
proxy, the restartable bridge, the load): :func:`pipeline_env` (the processes' settings;
``ServiceProcess`` drops inherited ``REGBRIDGE_*`` variables), :func:`bridge_process`,
:func:`consumer_process` and :func:`running_consumers`, :func:`notifying_registry`, and :func:`wait_until`.

:func:`running_pipeline` starts everything for the end-to-end tests and stops it all
(registry first, so no event is sent to a stopped bridge). :func:`wait_for_store` waits,
bounded, until every handler has persisted every record of its topic, then
:func:`read_store` snapshots the tables.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from common.contract import TOPIC_HANDLERS, TopicRouter
from devstack.ports import free_port
from devstack.registry import Notifications
from tests.support.database import processed_count, read_table
from tests.support.kafka import Landed
from tests.support.processes import ProcessFailed, ServiceProcess, venv_command
from tests.support.registry import LocalRegistry

TOKEN = "pipeline-token"
HANDLERS = TOPIC_HANDLERS
STORE_TABLES = ("repositories", "manifests", "tags", "pulls", "pull_clients", "audit_log")

Rows = list[dict[str, Any]]


def wait_until(check: Callable[[], bool], what: str, within: float = 90.0, every: float = 0.1) -> float:
    """Poll ``check`` until true; returns the seconds it took. Raises after ``within``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > within:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - started


def pipeline_env(bootstrap: str, prefix: str) -> dict[str, str]:
    """The settings the bridge and the consumers share: the broker, the topics, JSON logs."""
    return {
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "REGBRIDGE_TOPIC_PREFIX": prefix,
        "REGBRIDGE_LOG_FORMAT": "json",
    }


def bridge_process(
    settings: Mapping[str, str], logs: Path, port: int, ready: str = "/readyz"
) -> ServiceProcess:
    """``registry-bridge serve`` on ``port`` accepting :data:`TOKEN`, ready when ``ready`` answers."""
    command = [venv_command("registry-bridge"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return ServiceProcess(
        "bridge",
        command,
        env={"REGBRIDGE_AUTH_TOKENS": TOKEN, **settings},
        log_dir=logs,
        ready_url=f"http://127.0.0.1:{port}{ready}",
    )


def consumer_process(
    handler: str, settings: Mapping[str, str], database_url: str, logs: Path, port: int
) -> ServiceProcess:
    """One ``registry-consumer run <handler>`` with its metrics on ``port``, ready when its
    ``/healthz`` answers."""
    return ServiceProcess(
        f"consumer-{handler}",
        [venv_command("registry-consumer"), "run", handler],
        env={"REGBRIDGE_DATABASE_URL": database_url, "REGBRIDGE_METRICS_PORT": str(port), **settings},
        log_dir=logs,
        ready_url=f"http://127.0.0.1:{port}/healthz",
    )


def start_on_free_port(
    make: Callable[[int], ServiceProcess], timeout: float = 30.0, attempts: int = 3
) -> tuple[ServiceProcess, int]:
    """Start ``make(port)`` on a free port: another process on this shared machine can take the
    port between choosing and binding it, so that one case starts again on a new port."""
    for attempt in range(1, attempts + 1):
        port = free_port()
        process = make(port)
        try:
            process.start(timeout=timeout)
            return process, port
        except ProcessFailed as exc:
            if attempt == attempts or "address already in use" not in str(exc).lower():
                raise
    raise AssertionError("unreachable")


@contextmanager
def running_consumers(
    settings: Mapping[str, Mapping[str, str]], database_url: str, logs: Path, timeout: float = 30.0
) -> Iterator[dict[str, ServiceProcess]]:
    """The three consumers with ``settings[handler]``, started one after the other (each
    migrates the store at start unless told not to); all stopped on exit."""
    with ExitStack() as stack:
        consumers: dict[str, ServiceProcess] = {}
        for handler in HANDLERS:
            make = partial(consumer_process, handler, settings[handler], database_url, logs)
            consumers[handler] = start_on_free_port(make, timeout)[0]
            stack.callback(consumers[handler].stop)
        yield consumers


def notifying_registry(workdir: Path, url: str, **notifications: Any) -> LocalRegistry:
    """A registry (not started) whose notifications go to ``url`` with :data:`TOKEN`."""
    return LocalRegistry(workdir, Notifications(url, TOKEN, **notifications))


@dataclass
class Pipeline:
    registry: LocalRegistry
    bridge: ServiceProcess
    consumers: dict[str, ServiceProcess]
    router: TopicRouter
    bootstrap: str
    database_url: str

    def processes(self) -> dict[str, ServiceProcess]:
        return {"bridge": self.bridge, **{f"consumer-{h}": p for h, p in self.consumers.items()}}

    def dead(self) -> dict[str, str]:
        """The processes that exited, with the tail of their log."""
        return {name: p.log_tail() for name, p in self.processes().items() if not p.running}


@contextmanager
def running_pipeline(workdir: Path, bootstrap: str, prefix: str, database_url: str) -> Iterator[Pipeline]:
    logs = workdir / "logs"
    common = pipeline_env(bootstrap, prefix)
    with ExitStack() as stack:
        bridge, port = start_on_free_port(partial(bridge_process, common, logs))
        stack.callback(bridge.stop)
        settings = dict.fromkeys(HANDLERS, common)
        consumers = stack.enter_context(running_consumers(settings, database_url, logs))
        url = f"http://127.0.0.1:{port}/events"
        registry = stack.enter_context(notifying_registry(workdir / "registry", url, timeout="2s"))
        yield Pipeline(registry, bridge, consumers, TopicRouter(prefix=prefix), bootstrap, database_url)


def records_per_handler(router: TopicRouter, records: list[Landed]) -> dict[str, int]:
    by_topic = Counter(r.topic for r in records)
    return {h: by_topic[router.handler_topic(h)] for h in HANDLERS}


def wait_for_store(pipeline: Pipeline, expected: dict[str, int], within: float = 120.0) -> dict[str, int]:
    """Until each handler has persisted ``expected[handler]`` event ids (or ``within`` passed,
    or a process died); returns the counts reached, for the caller to assert on."""
    deadline = time.monotonic() + within
    reached = dict.fromkeys(HANDLERS, -1)
    while time.monotonic() < deadline and not pipeline.dead():
        reached = {h: asyncio.run(processed_count(pipeline.database_url, h)) for h in HANDLERS}
        if all(reached[h] >= expected[h] for h in HANDLERS):
            break
        time.sleep(0.5)
    return reached


def read_store(database_url: str) -> dict[str, Rows]:
    """Every row of the tables the end-to-end assertions read."""

    async def read_all() -> dict[str, Rows]:
        return {table: await read_table(database_url, table) for table in STORE_TABLES}

    return asyncio.run(read_all())
