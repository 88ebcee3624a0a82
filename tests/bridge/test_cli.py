"""The ``registry-bridge`` command: configuration errors. ``dev`` (``make run``) is in
``tests/devstack/test_stack.py``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.processes import clean_env


def test_serve_without_tokens_exits_2_naming_the_variable() -> None:
    argv = [sys.executable, "-m", "bridge", "serve", "--port", "1"]
    result = subprocess.run(
        argv,
        env=clean_env(REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS="k:9092"),
        capture_output=True,
        text=True,
        timeout=60,
    )
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
    env = clean_env(
        REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS="k:9092",
        REGBRIDGE_AUTH_TOKENS=secret,
        REGBRIDGE_KAFKA_SASL_PASSWORD=secret,
        **extra,
    )
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert named in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert secret not in result.stderr + result.stdout


def test_serve_with_a_bad_variable_exits_2() -> None:
    argv = [sys.executable, "-m", "bridge", "serve", "--port", "1"]
    env = clean_env(
        REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS="k:9092", REGBRIDGE_AUTH_TOKENS="t", REGBRIDGE_DEDUPE_WINDOW="lots"
    )
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "REGBRIDGE_DEDUPE_WINDOW" in result.stderr
