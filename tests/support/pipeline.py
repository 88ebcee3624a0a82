"""The whole pipeline as an operator runs it, for the end-to-end tests: the bridge
(``registry-bridge serve``) and the three consumers (``registry-consumer run push|pull|other``)
as separate processes, and a real ``docker-registry`` with htpasswd auth whose notifications
carry the bridge's bearer token. The broker is the test session's.

:func:`running_pipeline` starts everything and stops it all (registry first, so no event is
sent to a stopped bridge). :func:`wait_for_store` waits, bounded, until every handler has
persisted every record of its topic, then :func:`read_store` snapshots the tables.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bridge.contract import TopicRouter
from bridge.embedded import free_port
from bridge.localregistry import Notifications
from tests.support.database import processed_count, read_table
from tests.support.kafka import Landed
from tests.support.processes import ProcessFailed, ServiceProcess, venv_command
from tests.support.registry import LocalRegistry

TOKEN = "e2e-pipeline-token"
HANDLERS = ("push", "pull", "other")
STORE_TABLES = ("repositories", "manifests", "tags", "pulls", "pull_clients", "audit_log")

Rows = list[dict[str, Any]]


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


def _bridge(common: dict[str, str], logs: Path) -> tuple[ServiceProcess, int]:
    port = free_port()
    command = [venv_command("registry-bridge"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = ServiceProcess(
        "bridge",
        command,
        env={**common, "REGBRIDGE_AUTH_TOKENS": TOKEN},
        log_dir=logs,
        ready_url=f"http://127.0.0.1:{port}/readyz",
    )
    return process, port


def _consumer(
    handler: str, common: dict[str, str], database_url: str, logs: Path
) -> tuple[ServiceProcess, int]:
    metrics_port = free_port()
    process = ServiceProcess(
        f"consumer-{handler}",
        [venv_command("registry-consumer"), "run", handler],
        env={**common, "REGBRIDGE_DATABASE_URL": database_url, "REGBRIDGE_METRICS_PORT": str(metrics_port)},
        log_dir=logs,
        ready_url=f"http://127.0.0.1:{metrics_port}/healthz",
    )
    return process, metrics_port


def _started(
    stack: ExitStack, make: Callable[[], tuple[ServiceProcess, int]], attempts: int = 3
) -> tuple[ServiceProcess, int]:
    """Start a process on a free port: another process on this shared machine can take the port
    between choosing and binding it, so that one case starts again on a new port."""
    for attempt in range(1, attempts + 1):
        process, port = make()
        try:
            return stack.enter_context(process), port
        except ProcessFailed as exc:
            if attempt == attempts or "address already in use" not in str(exc).lower():
                raise
    raise AssertionError("unreachable")


@contextmanager
def running_pipeline(workdir: Path, bootstrap: str, prefix: str, database_url: str) -> Iterator[Pipeline]:
    logs = workdir / "logs"
    common = {
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "REGBRIDGE_TOPIC_PREFIX": prefix,
        "REGBRIDGE_LOG_FORMAT": "json",
    }
    with ExitStack() as stack:
        bridge, port = _started(stack, lambda: _bridge(common, logs))
        consumers = {
            h: _started(stack, partial(_consumer, h, common, database_url, logs))[0] for h in HANDLERS
        }
        notifications = Notifications(f"http://127.0.0.1:{port}/events", TOKEN, timeout="2s")
        registry = stack.enter_context(LocalRegistry(workdir / "registry", notifications))
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
