"""Every command line turns a bad setting into one line on stderr that names the variable,
and exit status 2: no traceback (``common.cli``). Run as real processes, as an operator would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import clean_env

BRIDGE = [sys.executable, "-m", "bridge"]
CONSUMER = [sys.executable, "-m", "consumers"]
COMMANDS = {
    "serve": ([*BRIDGE, "serve"], "BRIDGE_PORT"),
    "dev": ([*BRIDGE, "dev"], None),  # its ports are flags, checked by click
    "run push": ([*CONSUMER, "run", "push"], "METRICS_PORT"),
    "run pull": ([*CONSUMER, "run", "pull"], "METRICS_PORT"),
    "run other": ([*CONSUMER, "run", "other"], "METRICS_PORT"),
    "run relay": ([*CONSUMER, "run", "relay"], "METRICS_PORT"),
    "dashboard": ([*CONSUMER, "dashboard"], "DASHBOARD_PORT"),
    "db upgrade": ([*CONSUMER, "db", "upgrade"], None),
    "db current": ([*CONSUMER, "db", "current"], None),
}
CASES = [(name, "LOG_LEVEL", "verbose") for name in COMMANDS]
CASES += [(name, "LOG_FORMAT", "xml") for name in COMMANDS]
CASES += [(name, port, "eighty") for name, (_, port) in COMMANDS.items() if port]
CASES += [(name, "KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:abc") for name in ("serve", "run pull", "run relay")]
CASES += [(name, "RETENTION_HOURLY_DAYS", "7") for name in ("run pull", "run push", "run other", "dashboard")]


def good_env(tmp_path: Path) -> dict[str, str]:
    relay = tmp_path / "relay.yaml"
    relay.write_text("subscriptions:\n  - name: hook\n    url: http://127.0.0.1:9/hook\n")
    return {
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "REGBRIDGE_AUTH_TOKENS": "t",
        "REGBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "REGBRIDGE_RELAY_CONFIG": str(relay),
    }


@pytest.mark.parametrize(("command", "variable", "value"), CASES)
def test_a_bad_variable_is_one_line_and_exit_2(
    tmp_path: Path, command: str, variable: str, value: str
) -> None:
    argv, _ = COMMANDS[command]
    env = clean_env(**{**good_env(tmp_path), f"REGBRIDGE_{variable}": value})
    result = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and f"REGBRIDGE_{variable}" in lines[0], result.stderr
    assert lines[0].startswith(
        ("registry-bridge: configuration error:", "registry-consumer: configuration error:")
    )
    assert not list(tmp_path.glob("store.db*")), "nothing may start before the settings are checked"


@pytest.mark.parametrize("command", ["serve", "run push", "run relay"])
def test_the_bootstrap_servers_are_required_outside_dev(tmp_path: Path, command: str) -> None:
    argv, _ = COMMANDS[command]
    env = clean_env(**good_env(tmp_path))
    del env["REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS"]
    result = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS is required" in result.stderr


def test_the_relay_file_reports_every_problem_at_once(tmp_path: Path) -> None:
    relay = tmp_path / "misspelt.yaml"
    relay.write_text("subscription:\n  - name: hook\n    url: http://127.0.0.1:9/hook\n    retyr: {}\n")
    env = clean_env(**{**good_env(tmp_path), "REGBRIDGE_RELAY_CONFIG": str(relay)})
    argv, _ = COMMANDS["run relay"]
    result = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"registry-consumer: configuration error: {relay}:1: subscription: unknown field; "
        "did you mean 'subscriptions'? (subscriptions is required)"
    ], "the misspelt key is named, and nothing below it is guessed at"
