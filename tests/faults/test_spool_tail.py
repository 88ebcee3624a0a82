"""Fault test 6: the spool's tail torn, as a crash in the middle of an append leaves it.

The registry loads the bridge while the broker is frozen (SIGSTOP), so the bridge spools;
the load pauses once everything was answered, the bridge is SIGKILLed, and the newest
segment gets half of one more frame appended: the bytes a crash inside ``write`` leaves
behind for an append that never returned (so no 200 was ever sent for it). The bridge is
started again on the broker thawed: it reports the damage once, moves the torn bytes to
``quarantine/``, drains the intact prefix, and the registry's load goes on with nothing lost.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from bridge.spool.frame import encode_frame, scan_segment
from devstack.broker import EmbeddedBroker
from tests.faults.support import (
    BridgeProcess,
    broker_and_bridge,
    read_back,
    registry_under_load,
    thaw,
    unique_events,
)
from tests.support import expected_events
from tests.support.load import SteadyLoad
from tests.support.pipeline import wait_until
from tests.support.registry import LocalRegistry

pytestmark = pytest.mark.kafka

DAMAGE_LINE = "spool damage quarantined"


def tear_the_tail(spool: Path) -> int:
    """Append the first half of a frame that follows the last one; returns its length."""
    newest = sorted(spool.glob("*.seg"))[-1]
    frames = scan_segment(newest.read_bytes()).frames
    assert frames, f"{newest.name} holds no intact frame"
    last = frames[-1]
    frame = encode_frame(last.payload, seq=last.seq + 1, index=0, count=1, ts_ms=int(time.time() * 1000))
    torn = frame[: len(frame) // 2]
    with open(newest, "ab") as segment:
        segment.write(torn)
    return len(torn)


def damage_lines(bridge: BridgeProcess) -> list[str]:
    return [line for line in bridge.log_lines() if DAMAGE_LINE in line]


def spool_then_crash(
    broker: EmbeddedBroker, bridge: BridgeProcess, load: SteadyLoad, registry: LocalRegistry
) -> float:
    """Freeze the broker until 10 events are spooled, pause the load once the registry has
    its answers, SIGKILL the bridge; returns the spool's depth at the kill."""
    assert broker.pid is not None
    os.killpg(broker.pid, signal.SIGSTOP)
    wait_until(lambda: bridge.metric("regbridge_spool_depth") >= 10, "10 spooled events")
    load.pause()
    registry.wait_until_delivered(timeout=60)
    spooled = bridge.metric("regbridge_spool_depth")
    bridge.kill(signal.SIGKILL)
    bridge.wait_exit()
    return spooled


async def test_a_torn_spool_tail_is_quarantined(
    tmp_path: Path, topic_prefix: str, artifacts_dir: Path
) -> None:
    spool = tmp_path / "spool"
    with (
        broker_and_bridge(tmp_path, topic_prefix) as (broker, bridge),
        registry_under_load(tmp_path, bridge) as (registry, tap, load),
    ):
        load.wait_rounds(3)
        spooled = spool_then_crash(broker, bridge, load, registry)
        torn = tear_the_tail(spool)
        thaw(broker)
        started = time.monotonic()
        bridge.start()
        wait_until(lambda: bridge.metric("regbridge_spool_depth") == 0, "the intact prefix to drain")
        recover = time.monotonic() - started
        load.resume()
        load.wait_rounds(2)
        result = load.stop()
        registry.wait_until_delivered(timeout=120)
        assert bridge.process.running, bridge.process.log_tail()
        quarantined = bridge.metric("regbridge_spool_quarantined_bytes")
        records, figures = await read_back(broker.bootstrap_servers, topic_prefix, tap)
    damaged = sorted((spool / "quarantine").glob("*.damaged"))
    figures.test, figures.faults = "torn spool tail", f"bridge SIGKILL, {torn} torn bytes appended"
    figures.recover_seconds = round(recover, 2)
    figures.extra = {"spooled_at_kill": spooled, "quarantined_bytes": quarantined, "answers": tap.statuses()}
    figures.write(artifacts_dir)
    assert len(damage_lines(bridge)) == 1, "the damage is reported once"
    assert [p.stat().st_size for p in damaged] == [torn], "the torn bytes, and only they, are set aside"
    assert quarantined == torn
    assert figures.lost == 0 and figures.unexpected == 0
    assert expected_events.missing_pushes(unique_events(records), result) == []
