"""The bridge with its spool, against real brokers: a broker killed and restarted, a
full spool, and a bridge restarted with records still spooled."""

from __future__ import annotations

import asyncio
import copy
import os
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bridge.settings import BridgeSettings
from bridge.spool.journal import SpoolSettings
from devstack.broker import EmbeddedBroker
from devstack.ports import free_port
from tests.support.bridge import RunningBridge, bridge_settings, counts, registry_body, running_bridge
from tests.support.kafka import Landed, consume

pytestmark = pytest.mark.kafka
REPOS = ("team/hello", "team/api", "library/alpine")


@pytest.fixture(scope="module")
def push_event(fixture_envelopes: list[dict[str, Any]]) -> dict[str, Any]:
    return next(
        event
        for item in fixture_envelopes
        for event in item["envelope"]["events"]
        if event["action"] == "push"
    )


def body(template: dict[str, Any], n: int) -> bytes:
    """One envelope as the registry sends it: event ``n``, over three repositories."""
    event = copy.deepcopy(template)
    event["id"] = f"spool-{n:05d}"
    event["target"]["repository"] = REPOS[n % len(REPOS)]
    return registry_body({"events": [event]})


def spooled(settings: BridgeSettings, directory: Path, max_bytes: int = 64 * 1024 * 1024) -> BridgeSettings:
    return replace(settings, spool=SpoolSettings(directory=directory, max_bytes=max_bytes))


async def wait_metric(
    bridge: RunningBridge, name: str, value: float, within: float = 60.0, at_least: bool = False
) -> None:
    deadline = time.monotonic() + within
    while (found := await bridge.metric(name)) != value and not (at_least and found >= value):
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} is {found}, not {value}, after {within}s")
        await asyncio.sleep(0.1)


async def wait_kafka_ready(bridge: RunningBridge, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while (await bridge.client.get("/readyz")).json()["kafka"] != "ready":
        if time.monotonic() > deadline:
            raise AssertionError(f"Kafka not ready for the bridge after {within}s")
        await asyncio.sleep(0.1)


def check_landed(landed: list[Landed], sent: list[int]) -> int:
    """Every event landed, in order per repository; returns the same-id duplicates."""
    ids = [r.headers["event-id"].decode() for r in landed]
    assert set(ids) == {f"spool-{n:05d}" for n in sent}
    for repo in REPOS:
        order = [r.headers["event-id"].decode() for r in landed if r.key == repo.encode()]
        first_seen = list(dict.fromkeys(order))
        assert first_seen == [f"spool-{n:05d}" for n in sent if REPOS[n % len(REPOS)] == repo]
    return len(ids) - len(set(ids))


async def test_broker_killed_posts_are_spooled_then_land_once_it_is_back(
    tmp_path: Path, topic_prefix: str, push_event: dict[str, Any]
) -> None:
    broker = EmbeddedBroker(log_path=tmp_path / "tansu.log")
    await asyncio.to_thread(broker.start)
    # a generous publish budget: whether a record is published or spooled must not depend on CPU load
    base = bridge_settings(broker.bootstrap_servers, topic_prefix, ready_max_age=1.5, publish_timeout=5.0)
    settings = spooled(base, tmp_path)
    try:
        async with running_bridge(settings) as bridge:
            await wait_kafka_ready(bridge)  # with a spool, /readyz is 200 before Kafka is
            first = await bridge.post(body(push_event, 0))
            assert (first.status_code, counts(first)["published"]) == (200, 1)
            broker.kill()
            for n in range(1, 41):  # serially, as a registry delivers
                answer = await bridge.post(body(push_event, n))
                assert answer.status_code == 200, answer.text
                assert counts(answer)["spooled"] == 1
            retry = await bridge.post(body(push_event, 5))  # a registry retry of a spooled event
            assert (retry.status_code, counts(retry)["duplicates"]) == (200, 1)
            junk = await bridge.post(b"not json")  # quarantined: its record is spooled too
            assert (junk.status_code, counts(junk)["quarantined"]) == (202, 1)
            assert await bridge.metric("regbridge_spool_depth") == 41
            assert await bridge.metric("regbridge_spool_oldest_age_seconds") > 0
            ready = await bridge.client.get("/readyz")
            assert ready.status_code == 200  # the spool takes the events while Kafka is away
            assert ready.json()["spool"]["depth"] == 41

            # Let the bridge notice the outage (its producer is dropped) before the broker
            # comes back: Tansu restarts empty and acks records for a topic it no longer
            # has without storing them, so a producer with stale metadata loses them.
            await wait_metric(bridge, "regbridge_spool_drain_failures_total", 2, at_least=True)
            broker = EmbeddedBroker(port=broker.port, log_path=tmp_path / "tansu.log")
            await asyncio.to_thread(broker.start)
            restarted = time.monotonic()
            await wait_metric(bridge, "regbridge_spool_depth", 0, within=120)
            recovered = time.monotonic() - restarted
            after = await bridge.post(body(push_event, 41))
            assert counts(after)["published"] == 1  # directly again
            assert "spooled" not in counts(after)
            assert await bridge.metric("regbridge_spool_drained_total") >= 40
        topics = [f"{topic_prefix}.push", f"{topic_prefix}.invalid"]
        landed = await consume(broker.bootstrap_servers, topics, expect=42, settle=1.0)
        invalid = [r for r in landed if r.topic.endswith(".invalid")]
        assert [r.value for r in invalid] == [b"not json"]
        landed = [r for r in landed if r not in invalid]
        duplicates = check_landed(landed, list(range(1, 42)))  # Tansu is in memory: event 0 is gone
        print(f"sent=41 spooled=40 lost=0 duplicates={duplicates} recovered_in={recovered:.2f}s")
    finally:
        broker.stop()


async def test_a_full_spool_answers_503_with_retry_after(
    tmp_path: Path, topic_prefix: str, push_event: dict[str, Any]
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    settings = spooled(bridge_settings(closed, topic_prefix), tmp_path, max_bytes=64 * 1024)
    async with running_bridge(settings, ready=False) as bridge:
        statuses = []
        for n in range(200):
            statuses.append((await bridge.post(body(push_event, n))).status_code)
            if statuses[-1] != 200:
                break
        assert 20 < len(statuses) < 200
        refused = await bridge.post(body(push_event, 999))
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert "spool full" in refused.json()["error"]
        assert await bridge.metric("regbridge_spool_refused_total") == 2
        assert await bridge.metric("regbridge_spool_depth") == len(statuses) - 1
        assert (await bridge.client.get("/readyz")).status_code == 503  # Kafka away, no room


async def test_a_restarted_bridge_replays_its_spool_first(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, push_event: dict[str, Any]
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    async with running_bridge(
        spooled(bridge_settings(closed, topic_prefix), tmp_path), ready=False
    ) as bridge:
        for n in range(30):
            assert (await bridge.post(body(push_event, n))).status_code == 200
        assert await bridge.metric("regbridge_spool_depth") == 30
    settings = spooled(bridge_settings(kafka_bootstrap, topic_prefix), tmp_path)
    async with running_bridge(settings, ready=False) as bridge:
        for n in range(30, 40):  # new events queue behind the replay
            assert (await bridge.post(body(push_event, n))).status_code == 200
        await wait_metric(bridge, "regbridge_spool_depth", 0, within=120)
    landed = await consume(kafka_bootstrap, [f"{topic_prefix}.push"], expect=40)
    assert check_landed(landed, list(range(40))) == 0


async def test_an_event_too_large_for_kafka_is_quarantined_not_spooled(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, push_event: dict[str, Any]
) -> None:
    """An authenticated sender's 1.5 MiB event is over what Kafka takes: with a spool on, it
    is quarantined up front (202, truncated to ``<prefix>.invalid``), never spooled, and the
    events after it flow. (A record the broker refuses for other reasons while draining is
    set aside by the drainer: ``tests/bridge/spool/test_drainer.py``.)"""
    base = bridge_settings(kafka_bootstrap, topic_prefix, max_body_bytes=4 * 1024 * 1024)
    async with running_bridge(spooled(base, tmp_path)) as bridge:
        await wait_kafka_ready(bridge)
        huge = copy.deepcopy(push_event) | {"id": "spool-huge", "padding": "x" * (1536 * 1024)}
        answer = await bridge.post(registry_body({"events": [huge]}))
        assert answer.status_code == 202
        assert (counts(answer)["quarantined"], counts(answer).get("spooled", 0)) == (1, 0)
        for n in range(3):
            assert (await bridge.post(body(push_event, n))).status_code == 200
        await wait_metric(bridge, "regbridge_spool_depth", 0)
    landed = await consume(kafka_bootstrap, [f"{topic_prefix}.push"], expect=3)
    assert check_landed(landed, [0, 1, 2]) == 0
    (invalid,) = await consume(kafka_bootstrap, [f"{topic_prefix}.invalid"], expect=1)
    assert b"spool-huge" in invalid.value and "quarantine-truncated" in invalid.headers
    assert not list((tmp_path / "quarantine").glob("rejected-*.seg"))


async def test_a_frozen_broker_is_absorbed_by_the_spool(
    tmp_path: Path, topic_prefix: str, push_event: dict[str, Any]
) -> None:
    """SIGSTOP: connections stay open but nothing answers (a long GC pause, a partition)."""
    broker = EmbeddedBroker(log_path=tmp_path / "tansu.log")
    await asyncio.to_thread(broker.start)
    assert broker.pid is not None
    base = bridge_settings(broker.bootstrap_servers, topic_prefix, publish_timeout=0.5)
    try:
        async with running_bridge(spooled(base, tmp_path)) as bridge:
            await wait_kafka_ready(bridge)
            assert (await bridge.post(body(push_event, 0))).status_code == 200  # creates the topic
            await wait_metric(bridge, "regbridge_spool_depth", 0)
            os.killpg(broker.pid, signal.SIGSTOP)
            try:
                for n in range(1, 21):
                    answer = await bridge.post(body(push_event, n))
                    assert (answer.status_code, counts(answer)["spooled"]) == (200, 1)
            finally:
                os.killpg(broker.pid, signal.SIGCONT)
            await wait_metric(bridge, "regbridge_spool_depth", 0, within=120)
        landed = await consume(broker.bootstrap_servers, [f"{topic_prefix}.push"], expect=21, settle=1.0)
        duplicates = check_landed(landed, list(range(21)))
        print(f"sent=21 frozen_spooled=20 lost=0 duplicates={duplicates}")
    finally:
        broker.stop()
