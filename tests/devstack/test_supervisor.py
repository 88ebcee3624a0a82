"""The demo never leaves a process behind, however it ends, and a second start explains.

Each test runs the real ``registry-bridge dev`` (every port 0) in a directory of its own and
ends it the way an operator does: Ctrl-C through ``| tee`` (the pipe closes first), closing
the terminal (a real pseudo-terminal hung up), ``kill -9`` of the supervisor, and a second
``make run`` while one runs. Then no process may be left in the demo's directory, and no
port it printed may still answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.pidfile import process_start
from devstack.ports import port_open
from tests.support.demo import (
    READY,
    STOPPED,
    Dev,
    alive,
    dev_argv,
    running_dev,
    start_dev,
    stop_everything,
    wait_for,
    wait_gone,
)
from tests.support.processes import clean_env

pytestmark = pytest.mark.kafka


def _assert_all_gone(dev: Dev, children: dict[str, int], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while (dev.started() or any(alive(pid) for pid in children.values())) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = {name: pid for name, pid in children.items() if alive(pid)}
    assert left == {}, f"children still running: {left}\n{dev.text()}"
    assert dev.started() == [], "no process left working in the demo's directory"
    assert [p for p in dev.ports() if port_open("127.0.0.1", p)] == [], "a printed port still answers"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Dev]:
    dev = running_dev(tmp_path)
    try:
        yield dev
    finally:
        stop_everything(dev)


def test_ctrl_c_through_a_closed_pipe_stops_everything(tmp_path: Path) -> None:
    """``make run | tee run.log``, then Ctrl-C: the terminal signals the whole pipeline, tee
    dies at once, and every later line of the supervisor meets a broken pipe."""
    command = " ".join(dev_argv()) + " | tee tee.log"
    dev = start_dev(tmp_path / "piped", ["sh", "-c", command])
    try:
        wait_for(dev, READY)
        children = dev.recorded()
        supervisor = dev.supervisor
        os.killpg(dev.process.pid, signal.SIGINT)  # what Ctrl-C does: the foreground group
        wait_gone(supervisor, process_start(supervisor), within=90)
        _assert_all_gone(dev, children)
        assert dev.text().rstrip().endswith(STOPPED), dev.text()
        tee = (dev.cwd / "tee.log").read_text()
        assert READY in tee and STOPPED not in tee, "tee was gone before the stop sequence ended"
        assert "Traceback" not in dev.text()
    finally:
        stop_everything(dev)


class _Terminal:
    """A pseudo-terminal whose output is drained (a full one would block the demo) until it
    is hung up, as closing a terminal window does."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self._closing = threading.Event()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while not self._closing.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    os.read(self.master, 65536)
                except OSError:
                    return

    def hang_up(self) -> None:
        self._closing.set()
        self._reader.join(timeout=5)
        os.close(self.master)


def test_closing_the_terminal_stops_everything(tmp_path: Path) -> None:
    """The demo runs as the session leader of a real terminal (``setsid --ctty``); closing
    the terminal sends SIGHUP, and writes to it fail from then on."""
    terminal = _Terminal()
    io = {"stdin": terminal.slave, "stdout": terminal.slave, "stderr": terminal.slave}
    # not a group leader, so setsid makes the session in place (same pid) and takes the tty
    dev = start_dev(tmp_path / "terminal", ["setsid", "--ctty", *dev_argv()], start_new_session=False, **io)
    os.close(terminal.slave)
    try:
        wait_for(dev, READY)
        children = dev.recorded()
        assert dev.supervisor == dev.process.pid
        terminal.hang_up()
        assert dev.process.wait(timeout=90) == 0, dev.text()
        _assert_all_gone(dev, children)
        assert dev.text().rstrip().endswith(STOPPED)
        assert "console" in _log_format_seen(dev), "on a terminal, the processes write readable lines"
    finally:
        stop_everything(dev)


def _log_format_seen(dev: Dev) -> str:
    """console when the processes' lines are not JSON."""
    lines = [line for line in dev.text().splitlines() if "consumers.process" in line]
    return "json" if lines and all(line.startswith("{") for line in lines) else "console"


def test_sigkill_of_the_supervisor_takes_every_child_with_it(demo: Dev) -> None:
    children = demo.recorded()
    assert len(children) == 8, children  # broker, bridge, 3 consumers, reconcile, dashboard, registry
    started = {name: process_start(pid) for name, pid in children.items()}
    os.kill(demo.supervisor, signal.SIGKILL)
    waited = {name: wait_gone(pid, started[name], within=5.0) for name, pid in children.items()}
    assert max(waited.values()) < 5.0, waited
    _assert_all_gone(demo, children, within=10)


def test_a_second_start_says_what_runs_and_exits_2(demo: Dev) -> None:
    children = demo.recorded()
    second = subprocess.run(
        dev_argv(), cwd=demo.cwd, env=clean_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert second.returncode == 2, second.stdout + second.stderr
    message = second.stderr
    assert "a demo is already running in" in message and str(demo.cwd) in message
    assert f"kill {demo.supervisor}" in message, "it offers the command that stops it"
    for name, pid in children.items():
        assert f"{name}" in message and f"PID {pid}" in message, message
    bridge_port = demo.found(r"bridge ready: POST http://127\.0\.0\.1:(\d+)/events")
    assert f"port {bridge_port}" in message
    assert "Traceback" not in message and second.stdout == ""
    assert all(alive(pid) for pid in children.values()), "the running demo is untouched"

    os.kill(demo.supervisor, signal.SIGTERM)  # the offered command
    assert demo.process.wait(timeout=90) == 0
    _assert_all_gone(demo, children)


def test_a_leftover_child_of_a_dead_supervisor_is_reported(tmp_path: Path) -> None:
    """A record whose supervisor is gone while a child still runs (the ports are held):
    the start names the child and the kill command, and exits 2."""
    var = tmp_path / "var"
    var.mkdir()
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        child = {"name": "bridge", "pid": orphan.pid, "ports": [5080], "started": process_start(orphan.pid)}
        supervisor = {"name": "supervisor", "pid": os.getpid() + 10**6, "ports": [], "started": 1}
        record = {
            "directory": str(tmp_path),
            "since": "earlier",
            "supervisor": supervisor,
            "children": [child],
        }
        (var / "dev.pid").write_text(json.dumps(record))
        second = subprocess.run(
            dev_argv(), cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60, check=False
        )
        assert second.returncode == 2, second.stderr
        assert "processes of an earlier demo" in second.stderr
        assert f"PID {orphan.pid}" in second.stderr and "port 5080" in second.stderr
        assert f"kill {orphan.pid}" in second.stderr
    finally:
        with contextlib.suppress(ProcessLookupError):
            orphan.kill()
        orphan.wait(timeout=10)
