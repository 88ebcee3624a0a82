"""``registry-bridge dev`` (``make run``): the one-minute local demo, run as a newcomer would.

It starts on free ports (every port flag 0) in a temporary directory, so it never meets a
real 5000/8080 or the project's ``./var``. The test reads what it printed, runs the printed
skopeo push, sees the events in Kafka and the image in the dashboard's API and the store,
then presses Ctrl-C (SIGINT) and checks that every process it started is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devstack.ports import DevPorts, port_open
from devstack.stack import DevStack, dev_processes, registry_snippet
from tests.support.database import read_table
from tests.support.kafka import consume
from tests.support.processes import clean_env

PORT_FLAGS = (
    "--port",
    "--kafka-port",
    "--registry-port",
    "--registry-debug-port",
    "--dashboard-port",
    "--metrics-port",
)
READY = "[dev] Ctrl-C stops everything"


@dataclass
class Dev:
    process: subprocess.Popen[bytes]
    log: Path
    cwd: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def found(self, pattern: str) -> str:
        match = re.search(pattern, self.text(), re.MULTILINE)
        assert match, f"{pattern!r} is not in the output:\n{self.text()}"
        return match.group(1)

    def children(self) -> list[int]:
        """The pids whose parent is the dev process (the broker and every supervised process)."""
        return [pid for pid in _pids() if _stat(pid)[1:2] == [str(self.process.pid)]]

    def started(self) -> list[int]:
        """Every live process working in the test's directory but the dev process itself: what
        it started, even once orphaned (children inherit the working directory)."""
        found = []
        for pid in _pids():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/cwd").resolve() == self.cwd.resolve() and pid != self.process.pid:
                    found.append(pid)
        return [pid for pid in found if _alive(pid)]


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _stat(pid: int) -> list[str]:
    """State, parent pid, ... (the fields after the command name), or [] once gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _alive(pid: int) -> bool:
    return _stat(pid)[:1] not in ([], ["Z"])


def _wait_for_banner(dev: Dev, within: float = 180.0) -> None:
    deadline = time.monotonic() + within
    while READY not in dev.text():
        assert dev.process.poll() is None, f"dev exited ({dev.process.returncode}):\n{dev.text()}"
        assert time.monotonic() < deadline, f"no banner after {within}s:\n{dev.text()}"
        time.sleep(0.2)


def _start_dev(cwd: Path) -> Dev:
    cwd.mkdir()
    argv = [sys.executable, "-m", "bridge", "dev"] + [a for flag in PORT_FLAGS for a in (flag, "0")]
    log = cwd / "dev.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv, cwd=cwd, env=clean_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Dev(process, log, cwd)


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    """``registry-bridge dev`` up to its banner. The machine is shared: another process can take
    a port between dev choosing it and a child binding it; that case starts again, anew."""
    for attempt in (1, 2, 3):
        running = _start_dev(tmp_path / f"attempt-{attempt}")
        try:
            _wait_for_banner(running)
            break
        except AssertionError:
            _stop_everything(running)
            if attempt == 3 or "address already in use" not in running.text().lower():
                raise
    try:
        yield running
    finally:
        _stop_everything(running)


def _stop_everything(dev: Dev) -> None:
    """After a failed test: Ctrl-C first, then SIGKILL whatever is left, by pid."""
    if dev.process.poll() is None:
        dev.process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            dev.process.wait(timeout=60)
    if dev.process.poll() is None:
        os.killpg(dev.process.pid, signal.SIGKILL)
    for pid in dev.started():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    dev.process.wait(timeout=30)


def _demo_digest(cwd: Path) -> str:
    index = json.loads((cwd / "var" / "demo-image" / "index.json").read_text())
    return str(index["manifests"][0]["digest"])


def _tags_in_dashboard(url: str, within: float = 90.0) -> list[dict[str, str]]:
    deadline = time.monotonic() + within
    items: list[dict[str, str]] = []
    while not items and time.monotonic() < deadline:
        response = httpx.get(f"{url}api/v1/repositories/demo/hello/tags", timeout=5)
        items = response.json().get("items", []) if response.status_code == 200 else []
        time.sleep(0.3)
    return items


@pytest.mark.kafka
def test_make_run_demo_pushes_a_sample_image_through_and_stops_cleanly(dev: Dev) -> None:
    children = dev.children()
    assert len(children) == 8, "broker, bridge, three consumers, dashboard, registry and reconcile"
    assert sorted(dev.started()) == sorted(children)
    token = dev.found(r"Authorization: \[Bearer ([^\]]+)\]")
    bridge = dev.found(r"^\[dev\] bridge ready: POST (http://127\.0\.0\.1:\d+)/events$")
    bootstrap = dev.found(r"embedded Kafka broker \(Tansu, in memory\) on (\S+)$")
    dashboard = dev.found(r"^\[dev\] dashboard: (http://127\.0\.0\.1:\d+/)$")
    push = dev.found(r"^    (skopeo copy .*)$")
    assert f"url: {bridge}/events" in dev.text() and token

    done = subprocess.run(shlex.split(push), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr

    records = asyncio.run(consume(bootstrap, ["registry.events.push"], expect=3, within=60))
    assert {r.headers["repository"] for r in records} == {b"demo/hello"}
    assert len(records) == 3, "two blobs (config, layer) and the manifest"
    digest = _demo_digest(dev.cwd)
    assert [(t["tag"], t["digest"]) for t in _tags_in_dashboard(dashboard)] == [("v1", digest)]
    tags = asyncio.run(read_table(f"sqlite:///{dev.cwd / 'var' / 'registry.db'}", "tags"))
    assert [(t["repository"], t["tag"], t["digest"]) for t in tags] == [("demo/hello", "v1", digest)]

    dev.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert dev.process.wait(timeout=120) == 0, dev.text()
    assert [pid for pid in children if _alive(pid)] == []
    assert dev.started() == [], "no process left working in the demo's directory"
    assert "[dev] embedded broker stopped" in dev.text()
    assert (dev.cwd / "var" / "spool" / "lock").exists(), "the bridge ran with its spool"
    ports = [int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", dev.text())]
    assert [p for p in set(ports) if port_open("127.0.0.1", p)] == []


def test_a_taken_port_is_swapped_for_a_free_one() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = DevPorts(bridge=taken, dashboard=taken, metrics=taken - 1).resolved()
    assert taken not in (ports.bridge, ports.dashboard, *range(ports.metrics, ports.metrics + 4))
    assert len({ports.bridge, ports.dashboard, ports.registry, ports.registry_debug, ports.kafka}) == 5


def test_the_registry_is_in_the_stack_only_when_installed() -> None:
    stack = DevStack("127.0.0.1:9092", "t", "127.0.0.1", DevPorts())
    without = [spec.name for spec in dev_processes(stack)]
    assert without == ["bridge", "consumer-push", "consumer-pull", "consumer-other", "dashboard"]
    with_registry = dev_processes(DevStack("127.0.0.1:9092", "t", "127.0.0.1", DevPorts(), "/usr/bin/x"))
    assert [spec.name for spec in with_registry] == [*without, "registry", "reconcile"]
    assert all(spec.ready_url for spec in with_registry)


def test_demo_image_writes_a_layout_skopeo_can_read(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "bridge", "demo-image", str(tmp_path / "layout")]
    done = subprocess.run(argv, env=clean_env(), capture_output=True, text=True, timeout=60, check=True)
    source = done.stdout.strip()
    assert source == f"oci:{tmp_path / 'layout'}:hello"
    inspected = subprocess.run(
        ["skopeo", "inspect", "--raw", source], capture_output=True, text=True, timeout=60, check=False
    )
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["mediaType"] == "application/vnd.oci.image.manifest.v1+json"


def test_dev_snippet_names_a_reachable_url() -> None:
    local = DevStack("127.0.0.1:9092", "tok", "127.0.0.1", DevPorts(bridge=5080))
    assert "url: http://127.0.0.1:5080/events" in registry_snippet(local)
    assert "Authorization: [Bearer tok]" in registry_snippet(local)
    wide = DevStack("127.0.0.1:9092", "tok", "0.0.0.0", DevPorts(bridge=5080))
    assert wide.events_url == "http://127.0.0.1:5080/events"  # the local registry
    assert f"url: http://{socket.gethostname()}:5080/events" in registry_snippet(wide)
