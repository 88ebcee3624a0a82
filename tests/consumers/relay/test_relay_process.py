"""The real ``registry-consumer run relay`` as a subprocess: it relays, and SIGTERM stops it
cleanly (exit status 0) after it committed, so a restart sends nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.consumers.relay.support import make_event, publish
from tests.support.receivers import Receiver, running

pytestmark = pytest.mark.kafka


def start_relay(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).with_name("registry-consumer")), "run", "relay"]
    with open(log, "ab") as out:
        return subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=out)


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()


async def test_the_cli_relays_and_stops_on_sigterm(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    await publish(kafka_bootstrap, topic_prefix, [make_event(n) for n in range(3)])
    async with running(Receiver()) as receiver:
        config = tmp_path / "relay.yaml"
        config.write_text(
            "subscriptions:\n  - name: cli\n    url: " + receiver.url + "\n    topics: [push]\n"
            "    secret_env: CLI_HOOK_SECRET\n"
        )
        env = {
            "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "REGBRIDGE_TOPIC_PREFIX": topic_prefix,
            "REGBRIDGE_RELAY_CONFIG": str(config),
            "REGBRIDGE_RELAY_AUTO_OFFSET_RESET": "earliest",
            "REGBRIDGE_RELAY_SESSION_TIMEOUT_MS": "1000",
            "REGBRIDGE_METRICS_PORT": "0",
            "REGBRIDGE_LOG_FORMAT": "json",
            "CLI_HOOK_SECRET": "cli-secret",
        }
        first = start_relay(env, tmp_path / "first.log")
        try:
            await receiver.wait_for(3, within=60)
        finally:
            code = await asyncio.to_thread(stop, first)
        assert code == 0, (tmp_path / "first.log").read_text()
        await publish(kafka_bootstrap, topic_prefix, [make_event(3)])
        second = start_relay(env, tmp_path / "second.log")
        try:
            await receiver.wait_for(4, within=60)
        finally:
            assert await asyncio.to_thread(stop, second) == 0
    seqs = [r.body.count(b'"seq":') for r in receiver.requests]
    assert len(receiver.requests) == 4 and seqs == [1, 1, 1, 1]
    assert len({r.headers["x-registry-event-id"] for r in receiver.requests}) == 4  # nothing sent twice
    assert all(r.headers["x-registry-signature"].startswith("t=") for r in receiver.requests)
    log = (tmp_path / "first.log").read_text()
    assert '"msg":"batch"' in log and '"handler":"relay.cli"' in log
    assert "HTTP Request" not in log  # one line per batch, not one per request
