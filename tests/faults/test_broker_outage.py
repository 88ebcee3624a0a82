"""Fault tests 1 and 2: the broker SIGKILLed under a steady registry load, then restarted on
its port; with the spool (the registry never notices) and without it (503, the registry
retries). Nothing the registry sent is lost.

The embedded broker (Tansu) keeps everything in memory, so what it acknowledged before the
kill is gone after it: the load is paused and everything it produced so far read back
before the kill; the outage itself, the restart and the recovery happen under load. The
broker is restarted only once the bridge has dropped its producer (its log says
``Kafka unreachable; reconnecting``): Tansu restarted empty acknowledges records for topics
it no longer has without storing them (docs/reliability.md)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from common.contract import TopicRouter
from devstack.broker import EmbeddedBroker
from tests.faults.support import (
    BridgeProcess,
    broker_and_bridge,
    registry_under_load,
    unique_events,
)
from tests.support import expected_events
from tests.support.figures import Figures, landed_ids
from tests.support.kafka import Landed, consume
from tests.support.load import PendingSampler, SteadyLoad
from tests.support.pipeline import wait_until
from tests.support.registry import LocalRegistry
from tests.support.scenario import ScenarioResult
from tests.support.tap import RecordingTap

pytestmark = pytest.mark.kafka

# a few envelopes: the one waiting out the publish budget when the broker died, and the
# events the load generated meanwhile
MAX_PENDING_WITH_SPOOL = 30
RECYCLED = "Kafka unreachable; reconnecting"


def recycles(bridge: BridgeProcess) -> int:
    return sum(RECYCLED in line for line in bridge.log_lines())


async def read_all(bootstrap: str, prefix: str, expect: int) -> list[Landed]:
    return await consume(bootstrap, TopicRouter(prefix=prefix).topics, expect=expect, within=60, settle=1.5)


def outage(broker: EmbeddedBroker, bridge: BridgeProcess, load: SteadyLoad, spool: bool) -> float:
    """Kill the broker under load, let the bridge notice, keep the load going for a few
    rounds, restart the broker on its port; returns how long it was away."""
    seen = recycles(bridge)
    broker.kill()
    killed = time.monotonic()
    load.resume()
    wait_until(lambda: recycles(bridge) > seen, "the bridge to drop its producer", within=60)
    if spool:
        wait_until(lambda: bridge.metric("regbridge_spool_drain_failures_total") >= 2, "drain failures")
    load.wait_rounds(6)
    broker.start()
    return time.monotonic() - killed


def recovered(registry: LocalRegistry, bridge: BridgeProcess, spool: bool) -> bool:
    if registry.endpoint_counters().pending != 0:
        return False
    return not spool or bridge.metric("regbridge_spool_depth") == 0


def checked(records: list[Landed], tap: RecordingTap, result: ScenarioResult, spool: bool) -> Figures:
    """The counts, asserting that nothing was lost and the events tell what the load did."""
    figures = Figures(f"broker outage, spool {'on' if spool else 'off'}", faults="broker SIGKILL + restart")
    lost = figures.count(tap.sent_ids(), landed_ids(records))
    assert lost == [], f"{len(lost)} events lost: {lost[:5]}"
    assert figures.unexpected == 0
    assert expected_events.missing_pushes(unique_events(records), result) == []
    assert expected_events.pull_differences(unique_events(records), result) == []
    return figures


async def run_outage(tmp_path: Path, prefix: str, *, spool: bool) -> tuple[Figures, RecordingTap, int]:
    with (
        broker_and_bridge(tmp_path, prefix, spool=spool, REGBRIDGE_READY_MAX_AGE_SECONDS="1.5") as (
            broker,
            bridge,
        ),
        registry_under_load(tmp_path, bridge) as (registry, tap, load),
    ):
        load.wait_rounds(3)
        load.pause()
        registry.wait_until_delivered(timeout=60)
        before = await read_all(broker.bootstrap_servers, prefix, len(tap.sent_ids()))
        with PendingSampler(registry) as sampler:
            away = outage(broker, bridge, load, spool)
            recover = wait_until(lambda: recovered(registry, bridge, spool), "recovery", within=120)
            load.wait_rounds(2)
            result = load.stop()
            registry.wait_until_delivered(timeout=120)
        wait_until(lambda: not spool or bridge.metric("regbridge_spool_depth") == 0, "an empty spool")
        records = before + await read_all(broker.bootstrap_servers, prefix, len(tap.sent_ids()) - len(before))
        drained = bridge.metric("regbridge_spool_drained_total")
    figures = checked(records, tap, result, spool)
    figures.recover_seconds = round(recover, 2)
    figures.extra = {
        "max_pending": sampler.max_pending,
        "pending_samples": sampler.samples,
        "outage_seconds": round(away, 2),
        "rounds": load.rounds,
        "drained_from_spool": drained,
    }
    return figures, tap, sampler.max_pending


async def test_broker_killed_with_the_spool_on(
    tmp_path: Path, topic_prefix: str, artifacts_dir: Path
) -> None:
    figures, tap, max_pending = await run_outage(tmp_path, topic_prefix, spool=True)
    statuses = Counter(e.status for e in tap.snapshot())
    figures.extra["answers"] = {str(k): n for k, n in statuses.items()}
    figures.write(artifacts_dir)
    assert figures.extra["drained_from_spool"] > 0, "the outage went through the spool"
    assert set(statuses) == {200}, "the spool takes every envelope: the registry never sees a failure"
    assert max_pending <= MAX_PENDING_WITH_SPOOL, "the registry's queue stays near empty"


async def test_broker_killed_with_the_spool_off(
    tmp_path: Path, topic_prefix: str, artifacts_dir: Path
) -> None:
    figures, tap, max_pending = await run_outage(tmp_path, topic_prefix, spool=False)
    statuses = Counter(e.status for e in tap.snapshot())
    figures.extra["answers"] = {str(k): n for k, n in statuses.items()}
    figures.write(artifacts_dir)
    assert statuses[503] > 0, "without a spool the bridge refuses while Kafka is away"
    assert set(statuses) <= {200, 503}
    assert max_pending > 0, "and the registry holds the events meanwhile"
