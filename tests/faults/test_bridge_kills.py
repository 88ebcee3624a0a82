"""Fault tests 3 and 4: the bridge killed under a steady registry load.

3. SIGKILL while its spool holds events (the broker is frozen with SIGSTOP, so Kafka cannot
   acknowledge and the bridge spools), then the broker thawed and the bridge started again on
   its port and spool: the spool drains, nothing is lost, and the duplicates (a record Kafka
   acknowledged late and also spooled, a request whose answer died with the bridge) carry
   the same id and are counted once by the consumers.
4. SIGTERM: every request in flight when the signal arrives is answered without a 5xx;
   requests that arrive after it get 503 (draining) or find the port closed, and the
   registry retries them once the bridge is started again. Nothing is lost.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from devstack.broker import EmbeddedBroker
from tests.faults.support import (
    BridgeProcess,
    broker_and_bridge,
    read_back,
    registry_under_load,
    running_consumers,
    thaw,
    unique_events,
)
from tests.support import expected_events
from tests.support.expected_store import ids_by_handler, store_differences, wait_processed
from tests.support.load import SteadyLoad
from tests.support.pipeline import wait_until
from tests.support.tap import Exchange

pytestmark = pytest.mark.kafka


def crash_with_a_spool(broker: EmbeddedBroker, bridge: BridgeProcess, load: SteadyLoad) -> float:
    """Freeze the broker until 15 events are spooled, SIGKILL the bridge, let the load go on
    for 3 rounds (the registry's notifications fail), thaw the broker; returns the depth."""
    assert broker.pid is not None
    os.killpg(broker.pid, signal.SIGSTOP)
    wait_until(lambda: bridge.metric("regbridge_spool_depth") >= 15, "15 spooled events")
    spooled = bridge.metric("regbridge_spool_depth")
    bridge.kill(signal.SIGKILL)
    bridge.wait_exit()
    load.wait_rounds(3)
    thaw(broker)
    return spooled


async def test_bridge_killed_with_a_full_spool(
    tmp_path: Path, topic_prefix: str, artifacts_dir: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    with broker_and_bridge(tmp_path, topic_prefix) as (broker, bridge):
        bootstrap = broker.bootstrap_servers
        with (
            running_consumers(bootstrap, topic_prefix, store, tmp_path / "logs"),
            registry_under_load(tmp_path, bridge) as (registry, tap, load),
        ):
            load.wait_rounds(3)
            spooled = crash_with_a_spool(broker, bridge, load)
            started = time.monotonic()
            bridge.start()
            wait_until(lambda: bridge.metric("regbridge_spool_depth") == 0, "the spool to drain")
            wait_until(lambda: registry.endpoint_counters().pending == 0, "the registry's queue to empty")
            recover = time.monotonic() - started
            load.wait_rounds(2)
            result = load.stop()
            registry.wait_until_delivered(timeout=120)
            records, figures = await read_back(bootstrap, topic_prefix, tap)
            expected = ids_by_handler(records, topic_prefix)
            await wait_processed(store, expected)
            differences = await store_differences(store, expected, result)
    figures.test, figures.faults = (
        "bridge SIGKILL, spool not empty",
        "broker SIGSTOP, bridge SIGKILL + restart",
    )
    figures.recover_seconds = round(recover, 2)
    figures.extra = {"spooled_at_kill": spooled, "store_differences": differences, "answers": tap.statuses()}
    figures.write(artifacts_dir)
    assert differences == [], "each event once in the store, duplicates included"
    assert figures.lost == 0 and figures.unexpected == 0
    assert expected_events.missing_pushes(unique_events(records), result) == []


def refused_at_arrival(exchange: Exchange) -> bool:
    """Not in flight: refused before the bridge took it (503 draining, or no connection)."""
    draining = exchange.status == 503 and "shutting down" in exchange.detail
    return draining or (exchange.status is None and exchange.detail == "refused")


def terminate_with_a_request_in_flight(broker: EmbeddedBroker, bridge: BridgeProcess) -> float:
    """Freeze the broker so the next request waits for its acks, SIGTERM the bridge while it
    does, thaw the broker; returns when SIGTERM was sent."""
    assert broker.pid is not None
    os.killpg(broker.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: bridge.metric("regbridge_requests_in_flight") >= 1, "a request in flight")
        terminated = time.monotonic()
        bridge.kill(signal.SIGTERM)
    finally:
        os.killpg(broker.pid, signal.SIGCONT)
    return terminated


async def test_bridge_terminated_under_load(tmp_path: Path, topic_prefix: str, artifacts_dir: Path) -> None:
    with (
        broker_and_bridge(tmp_path, topic_prefix, REGBRIDGE_PUBLISH_TIMEOUT_SECONDS="5") as (broker, bridge),
        registry_under_load(tmp_path, bridge) as (registry, tap, load),
    ):
        load.wait_rounds(4)
        terminated = terminate_with_a_request_in_flight(broker, bridge)
        exit_code = bridge.wait_exit()
        load.wait_rounds(2)  # the registry queues and retries while the bridge is gone
        started = time.monotonic()
        bridge.start()
        wait_until(lambda: registry.endpoint_counters().pending == 0, "the registry's queue to empty")
        recover = time.monotonic() - started
        load.wait_rounds(2)
        result = load.stop()
        registry.wait_until_delivered(timeout=120)
        records, figures = await read_back(broker.bootstrap_servers, topic_prefix, tap)
    before = [e for e in tap.snapshot() if e.started <= terminated]
    in_flight = [e for e in before if e.ended >= terminated and not refused_at_arrival(e)]
    figures.test, figures.faults = "bridge SIGTERM under load", "broker SIGSTOP, bridge SIGTERM + restart"
    figures.recover_seconds = round(recover, 2)
    figures.extra = {"exit_code": exit_code, "in_flight": len(in_flight), "answers": tap.statuses()}
    figures.write(artifacts_dir)
    assert exit_code == 0, bridge.process.log_tail()
    assert in_flight, "the bridge reported a request in flight when it got SIGTERM"
    bad = [e for e in before if not refused_at_arrival(e) and (e.status is None or e.status >= 500)]
    assert bad == [], "a request the bridge had taken before SIGTERM got a 5xx or was dropped"
    assert figures.lost == 0 and figures.unexpected == 0
    assert expected_events.missing_pushes(unique_events(records), result) == []
    assert expected_events.pull_differences(unique_events(records), result) == []
