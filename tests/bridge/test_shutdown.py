"""SIGTERM on the real ``registry-bridge serve``: readiness and new requests turn 503,
requests in flight finish (here: held by a frozen broker), then the process exits."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.broker import EmbeddedBroker
from devstack.ports import free_port
from tests.support.bridge import TOKEN, auth, registry_body
from tests.support.kafka import consume

pytestmark = pytest.mark.kafka


def event_body(envelope: dict[str, Any], n: int) -> bytes:
    event = dict(envelope["events"][0])
    event["id"] = f"{event['id'][:-4]}{n:04d}"
    return registry_body({"events": [event]})


@contextmanager
def frozen(broker: EmbeddedBroker) -> Iterator[None]:
    assert broker.pid is not None
    os.killpg(broker.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(broker.pid, signal.SIGCONT)


def spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=out)


@asynccontextmanager
async def serve_process(
    bootstrap: str, prefix: str, log: Path
) -> AsyncIterator[tuple[subprocess.Popen[bytes], httpx.AsyncClient]]:
    port = free_port()
    env = {
        **os.environ,
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "REGBRIDGE_AUTH_TOKENS": TOKEN,
        "REGBRIDGE_TOPIC_PREFIX": prefix,
        "REGBRIDGE_PUBLISH_TIMEOUT_SECONDS": "30",
        "REGBRIDGE_GRACE_PERIOD_SECONDS": "30",
        "REGBRIDGE_LOG_FORMAT": "json",
    }
    argv = [sys.executable, "-m", "bridge", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = spawn(argv, env, log)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            await until(client, "/readyz", 200)
            yield process, client
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def until(client: httpx.AsyncClient, path: str, status: int, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if (await client.get(path)).status_code == status:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} did not answer {status} within {within}s")


async def in_flight(client: httpx.AsyncClient) -> float:
    text = (await client.get("/metrics")).text
    line = next(ln for ln in text.splitlines() if ln.startswith("regbridge_requests_in_flight "))
    return float(line.split()[1])


async def wait_in_flight(client: httpx.AsyncClient, count: int) -> None:
    deadline = time.monotonic() + 20
    while await in_flight(client) < count:
        assert time.monotonic() < deadline, "requests never got in flight"
        await asyncio.sleep(0.05)


async def wait_exit(process: subprocess.Popen[bytes], within: float) -> int:
    deadline = time.monotonic() + within
    while process.poll() is None:
        assert time.monotonic() < deadline, "the bridge did not exit"
        await asyncio.sleep(0.1)
    return process.returncode


async def test_sigterm_drains_requests_in_flight(
    topic_prefix: str, fixture_envelopes: list[dict[str, Any]], artifacts_dir: Path
) -> None:
    envelope = fixture_envelopes[2]["envelope"]
    with EmbeddedBroker(log_path=artifacts_dir / "tansu-shutdown.log") as broker:
        log = artifacts_dir / "bridge-sigterm.log"
        log.unlink(missing_ok=True)
        async with serve_process(broker.bootstrap_servers, topic_prefix, log) as (process, client):
            assert (
                await client.post("/events", content=event_body(envelope, 0), headers=auth())
            ).status_code == 200
            with frozen(broker):
                posts = [
                    asyncio.create_task(
                        client.post("/events", content=event_body(envelope, n), headers=auth())
                    )
                    for n in (1, 2, 3)
                ]
                await wait_in_flight(client, 3)
                process.send_signal(signal.SIGTERM)
                await until(client, "/readyz", 503, within=5)
                late = await client.post("/events", content=event_body(envelope, 4), headers=auth())
                assert late.status_code == 503
                assert late.headers["retry-after"]
                assert not any(p.done() for p in posts)
            answers = await asyncio.gather(*posts)
            assert [a.status_code for a in answers] == [200, 200, 200]
            assert await wait_exit(process, 30) == 0
        landed = await consume(broker.bootstrap_servers, [f"{topic_prefix}.push"], expect=4, settle=1.0)
    assert sorted(r.headers["event-id"][-4:] for r in landed) == [b"0000", b"0001", b"0002", b"0003"]
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["msg"] == "POST /events" and line.get("event_ids")]
    published = [r for r in requests if r["status"] == 200 and r["event_ids"][0].endswith(("1", "2", "3"))]
    assert len(published) >= 3  # one JSON line per request: ids, topic, outcome, ms
    assert all(r["topics"] == [f"{topic_prefix}.push"] and r["outcome"] == "published" for r in published)
    assert all(isinstance(r["ms"], float) for r in published)
    assert any(line["msg"] == "POST /events" and line["outcome"] == "draining" for line in lines)


async def test_second_signal_forces_the_exit(
    topic_prefix: str, fixture_envelopes: list[dict[str, Any]], artifacts_dir: Path
) -> None:
    envelope = fixture_envelopes[2]["envelope"]
    with EmbeddedBroker(log_path=artifacts_dir / "tansu-shutdown.log") as broker:
        log = artifacts_dir / "bridge-shutdown.log"
        async with serve_process(broker.bootstrap_servers, topic_prefix, log) as (process, client):
            assert (
                await client.post("/events", content=event_body(envelope, 0), headers=auth())
            ).status_code == 200
            with frozen(broker):
                post = asyncio.create_task(
                    client.post("/events", content=event_body(envelope, 1), headers=auth())
                )
                await wait_in_flight(client, 1)
                process.send_signal(signal.SIGTERM)
                await until(client, "/readyz", 503, within=5)
                process.send_signal(signal.SIGTERM)
                await wait_exit(process, 10)  # well before the 30 s grace period
            try:
                status = (await post).status_code
            except httpx.TransportError:
                status = None
            assert status != 200, "a forced exit must never report an unacknowledged event as a success"
            print("answer to the request cut short:", status)
