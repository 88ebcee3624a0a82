"""``registry-bridge serve`` SIGKILLed with a non-empty spool, then started again: the spool
drains and nothing is lost."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.spool.journal import Spool
from devstack.ports import free_port
from tests.support.bridge import TOKEN, auth, counts, registry_body
from tests.support.kafka import consume

pytestmark = pytest.mark.kafka


def serve_env(bootstrap: str, spool: Path, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGBRIDGE_")}
    return env | {
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "REGBRIDGE_AUTH_TOKENS": TOKEN,
        "REGBRIDGE_TOPIC_PREFIX": prefix,
        "REGBRIDGE_SPOOL_DIR": str(spool),
        "REGBRIDGE_LOG_FORMAT": "json",
    }


@contextmanager
def serve(
    bootstrap: str, spool: Path, prefix: str, log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = serve_env(bootstrap, spool, prefix)
    argv = [sys.executable, "-m", "bridge", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "ab") as out:
        process = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url, process, log), "the bridge to answer")
        yield process, url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _answers(url: str, process: subprocess.Popen[bytes], log: Path) -> bool:
    assert process.poll() is None, log.read_text()
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(check: Any, what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def metric(url: str, name: str) -> float:
    text = httpx.get(url + "/metrics", timeout=5).text
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])


def spool_depth(url: str) -> float:
    return metric(url, "regbridge_spool_depth")


def test_sigkill_with_a_non_empty_spool_then_restart_drains_everything(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, fixture_envelopes: list[dict[str, Any]]
) -> None:
    template = fixture_envelopes[0]["envelope"]["events"][0]
    sent = []
    closed = f"127.0.0.1:{free_port()}"
    with serve(closed, tmp_path / "spool", topic_prefix, tmp_path / "bridge.log") as (process, url):
        for n in range(25):
            event = copy.deepcopy(template) | {"id": f"crash-{n:03d}"}
            answer = httpx.post(url + "/events", content=registry_body({"events": [event]}), headers=auth())
            assert (answer.status_code, counts(answer)["spooled"]) == (200, 1)
            sent.append(event["id"])
        os.killpg(process.pid, signal.SIGKILL)
    with serve(kafka_bootstrap, tmp_path / "spool", topic_prefix, tmp_path / "bridge.log") as (process, url):
        wait_for(lambda: spool_depth(url) == 0, "the spool to drain")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    topic = f"{topic_prefix}.{'push' if template['action'] == 'push' else 'pull'}"
    landed = asyncio.run(consume(kafka_bootstrap, [topic], expect=len(sent)))
    ids = [r.headers["event-id"].decode() for r in landed]
    assert sorted(set(ids)) == sent
    assert list(dict.fromkeys(ids)) == sent  # one repository: its order is kept


def test_a_spool_directory_in_use_stops_the_start_up(tmp_path: Path, topic_prefix: str) -> None:
    holder = Spool.open(tmp_path / "spool")  # another bridge has this directory
    env = serve_env(f"127.0.0.1:{free_port()}", tmp_path / "spool", topic_prefix)
    argv = [sys.executable, "-m", "bridge", "serve", "--host", "127.0.0.1", "--port", str(free_port())]
    try:
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    finally:
        holder.close()
    assert result.returncode != 0
    assert "cannot open the spool" in result.stdout and "in use by another spool" in result.stdout


def test_a_torn_spool_tail_is_reported_and_the_intact_prefix_drains(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, fixture_envelopes: list[dict[str, Any]]
) -> None:
    template = fixture_envelopes[0]["envelope"]["events"][0]
    closed = f"127.0.0.1:{free_port()}"
    log = tmp_path / "bridge.log"
    with serve(closed, tmp_path / "spool", topic_prefix, log) as (process, url):
        for n in range(10):
            event = copy.deepcopy(template) | {"id": f"torn-{n:03d}"}
            answer = httpx.post(url + "/events", content=registry_body({"events": [event]}), headers=auth())
            assert counts(answer)["spooled"] == 1
        os.killpg(process.pid, signal.SIGKILL)
    (segment,) = (tmp_path / "spool").glob("*.seg")
    with segment.open("r+b") as file:  # a torn write: the last record is cut short
        file.truncate(segment.stat().st_size - 7)
    with serve(kafka_bootstrap, tmp_path / "spool", topic_prefix, log) as (process, url):
        wait_for(lambda: spool_depth(url) == 0, "the spool to drain")
        quarantined = metric(url, "regbridge_spool_quarantined_bytes")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert quarantined > 0
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    reported = [line for line in lines if line["level"] == "error" and line["logger"] == "bridge.spool"]
    assert [(line["msg"], line["reason"]) for line in reported] == [
        ("spool damage quarantined", "truncated frame payload")
    ]
    topic = f"{topic_prefix}.{'push' if template['action'] == 'push' else 'pull'}"
    landed = asyncio.run(consume(kafka_bootstrap, [topic], expect=9))
    assert list(dict.fromkeys(r.headers["event-id"].decode() for r in landed)) == [
        f"torn-{n:03d}" for n in range(9)
    ]
