"""The ``registry-bridge`` command: configuration errors, and ``dev`` (``make run``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.embedded import free_port, port_open
from tests.support.bridge import registry_body


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGBRIDGE_")}
    return {**env, **extra}


def test_serve_without_tokens_exits_2_naming_the_variable() -> None:
    argv = [sys.executable, "-m", "bridge", "serve", "--port", "1"]
    result = subprocess.run(argv, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "REGBRIDGE_AUTH_TOKENS" in lines[0] and "REGBRIDGE_ALLOW_ANONYMOUS" in lines[0]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"REGBRIDGE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "REGBRIDGE_KAFKA_SASL_MECHANISM"),
        ({"REGBRIDGE_TLS_CERT_FILE": "/nonexistent.pem"}, "REGBRIDGE_TLS_CERT_FILE"),
    ],
)
def test_serve_with_bad_security_settings_exits_2(extra: dict[str, str], named: str) -> None:
    argv = [sys.executable, "-m", "bridge", "serve", "--port", "1"]
    secret = "do-not-print-me"
    env = clean_env(REGBRIDGE_AUTH_TOKENS=secret, REGBRIDGE_KAFKA_SASL_PASSWORD=secret, **extra)
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert named in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert secret not in result.stderr + result.stdout


def test_serve_with_a_bad_variable_exits_2() -> None:
    argv = [sys.executable, "-m", "bridge", "serve", "--port", "1"]
    env = clean_env(REGBRIDGE_AUTH_TOKENS="t", REGBRIDGE_DEDUPE_WINDOW="lots")
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "REGBRIDGE_DEDUPE_WINDOW" in result.stderr


def read_until(
    path: Path, pattern: str, process: subprocess.Popen[bytes], within: float = 60
) -> re.Match[str]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = re.search(pattern, path.read_text(errors="replace"))
        if found:
            return found
        assert process.poll() is None, path.read_text()
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} never appeared:\n{path.read_text()}")


@pytest.mark.kafka
def test_dev_runs_broker_and_bridge_prints_the_snippet_and_stops_cleanly(
    tmp_path: Path, fixture_envelopes: list[dict[str, Any]]
) -> None:
    port, kafka_port = free_port(), free_port()
    log = tmp_path / "dev.log"
    argv = [sys.executable, "-m", "bridge", "dev", "--port", str(port), "--kafka-port", str(kafka_port)]
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, env=clean_env(), stdout=out, stderr=subprocess.STDOUT)
    try:
        token = read_until(log, r"Authorization: \[Bearer ([^\]]+)\]", process).group(1)
        text = log.read_text()
        assert f"url: http://127.0.0.1:{port}/events" in text
        assert "timeout: 1s" in text and "threshold:" in text and "backoff:" in text
        body = registry_body(fixture_envelopes[0]["envelope"])
        answer = httpx.post(
            f"http://127.0.0.1:{port}/events", content=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200
        process.send_signal(signal.SIGINT)  # Ctrl-C
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not port_open("127.0.0.1", port) and not port_open("127.0.0.1", kafka_port)
    assert "[dev] embedded broker stopped" in log.read_text()
