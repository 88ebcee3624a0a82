"""``registry-consumer dashboard`` as a real process: it prints its URL, migrates a new
SQLite store, serves the page and the API, and stops cleanly on SIGTERM; it refuses to
start anonymous on an address other than loopback, and serves HTTPS with its own
``REGBRIDGE_DASHBOARD_TLS_*`` variables."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.certs import make_certificates
from tests.support.processes import clean_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(
    url: str,
    process: subprocess.Popen[bytes],
    verify: ssl.SSLContext | bool = True,
    path: str = "api/v1/health",
) -> httpx.Response | None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return httpx.get(url + path, timeout=2, verify=verify)
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


def run_dashboard(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("registry-consumer")), "dashboard", *args]
    env = clean_env(**env)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_without_authentication_it_refuses_to_start_on_any_address_but_loopback(tmp_path: Path) -> None:
    store = {"REGBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path}/store.db"}
    for env, args in (
        (store, ("--host", "0.0.0.0", "--port", str(free_port()))),
        ({**store, "REGBRIDGE_DASHBOARD_HOST": "::"}, ("--port", str(free_port()))),
        ({**store, "REGBRIDGE_DASHBOARD_HOST": "dashboard.example.com"}, ()),
    ):
        done = run_dashboard(env, *args)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("registry-consumer: configuration error:"), lines
        for variable in ("TOKENS", "TRUSTED_USER_HEADER", "TRUSTED_PROXIES", "ALLOW_ANONYMOUS=true"):
            assert f"REGBRIDGE_DASHBOARD_{variable}" in lines[0], variable
        assert done.stdout == ""  # it never started
    assert not (tmp_path / "store.db").exists()


def test_the_dashboard_command_serves_https(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "certs")
    port = free_port()
    env = {
        "REGBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path}/store.db",
        "REGBRIDGE_DASHBOARD_TLS_CERT_FILE": str(certs.server_cert),
        "REGBRIDGE_DASHBOARD_TLS_KEY_FILE": str(certs.server_key),
        "REGBRIDGE_DASHBOARD_TOKENS": "viewer-token-0123456789abcdef",
        "REGBRIDGE_LOG_FORMAT": "json",
    }
    command = [str(Path(sys.executable).with_name("registry-consumer")), "dashboard", "--port", str(port)]
    process = subprocess.Popen(
        command, env=clean_env(**env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().decode().strip() == f"dashboard: https://127.0.0.1:{port}/"
        verified = ssl.create_default_context(cafile=str(certs.ca_file))
        health = wait_healthy(f"https://127.0.0.1:{port}/", process, verify=verified, path="healthz")
        assert health is not None and health.status_code == 200, "the dashboard did not answer over HTTPS"
        assert health.headers["strict-transport-security"].startswith("max-age=")
        summary = httpx.get(f"https://127.0.0.1:{port}/api/v1/summary", verify=verified, timeout=5)
        assert summary.status_code == 401
        with pytest.raises(httpx.HTTPError):  # plain HTTP on the TLS port gets no HTTP answer
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0


def test_tls_errors_name_the_dashboards_variables(tmp_path: Path) -> None:
    env = {
        "REGBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path}/store.db",
        "REGBRIDGE_DASHBOARD_TLS_CERT_FILE": str(tmp_path / "missing.pem"),
    }
    done = run_dashboard(env, "--port", str(free_port()))
    assert done.returncode == 2
    assert "REGBRIDGE_DASHBOARD_TLS_CERT_FILE and REGBRIDGE_DASHBOARD_TLS_KEY_FILE go together" in done.stderr
