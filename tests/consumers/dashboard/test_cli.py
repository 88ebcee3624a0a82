"""``registry-consumer dashboard`` as a real process: it prints its URL, migrates a new
SQLite store, serves the page and the API, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> httpx.Response | None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return httpx.get(url + "api/v1/health", timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    return None


def test_the_dashboard_command_serves_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "REGBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path}/var/store.db",
        "REGBRIDGE_LOG_FORMAT": "json",
    }
    command = [str(Path(sys.executable).with_name("registry-consumer")), "dashboard", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        assert process.stdout is not None
        assert process.stdout.readline().decode().strip() == f"dashboard: {url}"
        health = wait_healthy(url, process)
        assert health is not None and health.json() == {"status": "ok"}, "the dashboard did not answer"
        assert "Registry load" in httpx.get(url, timeout=5).text
        assert httpx.get(url + "api/v1/repositories", timeout=5).json()["items"] == []  # migrated, empty
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0
    assert (tmp_path / "var" / "store.db").exists()
