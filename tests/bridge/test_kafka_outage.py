"""Kafka down at start-up and Kafka lost mid-run: 503s, then recovery without a restart."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from devstack.broker import EmbeddedBroker
from devstack.ports import free_port
from tests.support.bridge import RunningBridge, bridge_settings, counts, registry_body, running_bridge
from tests.support.kafka import consume

pytestmark = pytest.mark.kafka


def fresh(envelope: dict[str, Any], n: int) -> bytes:
    event = dict(envelope["events"][0])
    event["id"] = f"{event['id'][:-4]}{n:04d}"
    return registry_body({"events": [event]})


async def wait_status(bridge: RunningBridge, path: str, status: int, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while (await bridge.client.get(path)).status_code != status:
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not answer {status} within {within}s")
        await asyncio.sleep(0.1)


async def test_broker_down_at_start_up(
    topic_prefix: str, fixture_envelopes: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.request")
    closed = f"127.0.0.1:{free_port()}"
    async with running_bridge(bridge_settings(closed, topic_prefix), ready=False) as bridge:
        await asyncio.sleep(1.0)
        assert (await bridge.client.get("/healthz")).status_code == 200
        assert (await bridge.client.get("/readyz")).status_code == 503
        answer = await bridge.post(registry_body(fixture_envelopes[0]["envelope"]))
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        assert "error" in answer.json()
        assert await bridge.metric("regbridge_events_published_total") == 0
    lines = [getattr(r, "fields", {}) for r in caplog.records if r.getMessage() == "POST /events"]
    event_id = fixture_envelopes[0]["envelope"]["events"][0]["id"]
    assert {"status": 503, "outcome": "unavailable", "event_ids": [event_id]}.items() <= lines[-1].items()


async def test_broker_lost_mid_run_then_back_on_the_same_port(
    topic_prefix: str, fixture_envelopes: list[dict[str, Any]], artifacts_dir: Path
) -> None:
    envelope = fixture_envelopes[2]["envelope"]
    broker = EmbeddedBroker(log_path=artifacts_dir / "tansu-faults.log")
    broker.start()
    try:
        settings = bridge_settings(broker.bootstrap_servers, topic_prefix, ready_max_age=1.5)
        async with running_bridge(settings) as bridge:
            assert (await bridge.post(fresh(envelope, 1))).status_code == 200
            broker.kill()
            down = await bridge.post(fresh(envelope, 2))
            assert down.status_code == 503
            assert down.headers["retry-after"] == "1"
            await wait_status(bridge, "/readyz", 503)

            broker = EmbeddedBroker(port=broker.port, log_path=artifacts_dir / "tansu-faults.log")
            broker.start()
            await wait_status(bridge, "/readyz", 200, within=30)
            answers = []
            for _attempt in range(40):  # the registry retries until it gets a 2xx
                answers.append((await bridge.post(fresh(envelope, 2))).status_code)
                if answers[-1] == 200:
                    break
                await asyncio.sleep(0.25)
            assert answers[-1] == 200, answers
            assert (await bridge.post(fresh(envelope, 3))).status_code == 200
        landed = await consume(broker.bootstrap_servers, [f"{topic_prefix}.push"], expect=2, settle=1.0)
        ids = sorted(r.headers["event-id"].decode()[-4:] for r in landed)
        assert ids == ["0002", "0003"]  # each once, on the new broker
    finally:
        broker.stop()


async def test_a_retry_while_the_first_copy_is_in_flight_is_not_published_twice(
    topic_prefix: str, fixture_envelopes: list[dict[str, Any]], artifacts_dir: Path
) -> None:
    """The registry resends after a 503; the first copy may still be waiting for its ack."""
    envelope = fixture_envelopes[2]["envelope"]
    with EmbeddedBroker(log_path=artifacts_dir / "tansu-faults.log") as broker:
        settings = bridge_settings(broker.bootstrap_servers, topic_prefix, publish_timeout=0.3)
        async with running_bridge(settings) as bridge:
            assert (await bridge.post(fresh(envelope, 1))).status_code == 200
            assert broker.pid is not None
            os.killpg(broker.pid, signal.SIGSTOP)
            try:
                first = await bridge.post(fresh(envelope, 2))
                retry = await bridge.post(fresh(envelope, 2))
            finally:
                os.killpg(broker.pid, signal.SIGCONT)
            assert (first.status_code, retry.status_code) == (503, 503)
            for _ in range(50):  # the registry keeps retrying until it gets a 2xx
                last = await bridge.post(fresh(envelope, 2))
                if last.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert last.status_code == 200
            assert counts(last)["duplicates"] == 1  # the first copy's late ack counted
        landed = await consume(broker.bootstrap_servers, [f"{topic_prefix}.push"], expect=2, settle=1.0)
    assert sorted(r.headers["event-id"][-4:] for r in landed) == [b"0001", b"0002"]
