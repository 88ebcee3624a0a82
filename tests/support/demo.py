"""Running ``registry-bridge dev`` (``make run``) as a newcomer would, in a directory of its own.

Every port flag is 0, so it never meets a real 5000/8080 or the project's ``./var``.
:class:`Dev` finds what it printed (``var/dev.log``, its copy of the output), what it runs
(``var/dev.pid``), and every process it started, even once orphaned: children inherit the
working directory, so any live process working in the test's directory is one of them.
:func:`stop_everything` ends whatever is left, by pid, whatever the test did.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from devstack.pidfile import process_start
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
STOPPED = "[dev] everything stopped"


def dev_argv() -> list[str]:
    return [sys.executable, "-m", "bridge", "dev"] + [a for flag in PORT_FLAGS for a in (flag, "0")]


def pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def stat(pid: int) -> list[str]:
    """State, parent pid, ... (the fields after the command name), or [] once gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def alive(pid: int) -> bool:
    return stat(pid)[:1] not in ([], ["Z"], ["X"])


@dataclass
class Dev:
    """One demo. ``process`` is what the test started: the supervisor itself, or a shell or
    ``setsid`` around it (then the supervisor is found in ``var/dev.pid``)."""

    process: subprocess.Popen[bytes]
    cwd: Path
    output: Path  # where the test sent its stdout
    extra: list[IO[Any]] = field(default_factory=list)  # files to close at the end

    @property
    def log(self) -> Path:
        return self.cwd / "var" / "dev.log"

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def found(self, pattern: str) -> str:
        match = re.search(pattern, self.text(), re.MULTILINE)
        assert match, f"{pattern!r} is not in the output:\n{self.text()}"
        return match.group(1)

    def record(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.cwd / "var" / "dev.pid").read_text())
        return data

    @property
    def supervisor(self) -> int:
        return int(self.record()["supervisor"]["pid"])

    def recorded(self) -> dict[str, int]:
        """Name → pid of every child in the pid file."""
        return {child["name"]: int(child["pid"]) for child in self.record()["children"]}

    def children(self) -> list[int]:
        """The pids whose parent is the supervisor."""
        parent = str(self.supervisor)
        return [pid for pid in pids() if stat(pid)[1:2] == [parent]]

    def started(self) -> list[int]:
        """Every live process working in the demo's directory: the supervisor, what it
        started, and what the test started around it (a shell, tee), even once orphaned."""
        found = []
        for pid in pids():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/cwd").resolve() == self.cwd.resolve():
                    found.append(pid)
        return [pid for pid in found if alive(pid)]

    def ports(self) -> list[int]:
        return sorted({int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", self.text())})


def start_dev(cwd: Path, argv: Sequence[str] | None = None, **popen: Any) -> Dev:
    """Start ``argv`` (default: the demo itself) in ``cwd``, in a session of its own unless
    ``start_new_session=False`` (then ``argv`` makes one, as ``setsid`` does)."""
    cwd.mkdir(parents=True, exist_ok=True)
    output = cwd / "stdout.log"
    options: dict[str, Any] = {
        "stdout": None,
        "stderr": subprocess.STDOUT,
        "start_new_session": True,
        **popen,
    }
    extra: list[IO[Any]] = []
    if options["stdout"] is None:
        out = open(output, "wb")  # noqa: SIM115 - closed by stop_everything
        extra.append(out)
        options["stdout"] = out
    process = subprocess.Popen(list(argv or dev_argv()), cwd=cwd, env=clean_env(), **options)
    return Dev(process, cwd, output, extra)


def wait_for(dev: Dev, text: str, within: float = 180.0) -> None:
    deadline = time.monotonic() + within
    while text not in dev.text():
        assert dev.process.poll() is None, f"exited ({dev.process.returncode}):\n{dev.text()}"
        assert time.monotonic() < deadline, f"no {text!r} after {within}s:\n{dev.text()}"
        time.sleep(0.2)


def wait_gone(pid: int, started: int | None, within: float) -> float:
    """Seconds until ``pid`` (as started at ``started``) is gone; fails after ``within``."""
    begin = time.monotonic()
    while process_start(pid) is not None and process_start(pid) == started:
        assert time.monotonic() - begin < within, f"process {pid} still runs after {within}s"
        time.sleep(0.05)
    return time.monotonic() - begin


def running_dev(tmp_path: Path, **popen: Any) -> Dev:
    """The demo up to its banner. The machine is shared: another process can take a port
    between dev choosing it and a child binding it; that case starts again, anew."""
    for attempt in (1, 2, 3):
        dev = start_dev(tmp_path / f"attempt-{attempt}", **popen)
        try:
            wait_for(dev, READY)
            return dev
        except AssertionError:
            stop_everything(dev)
            if attempt == 3 or "address already in use" not in dev.text().lower():
                raise
    raise AssertionError("unreachable")


def stop_everything(dev: Dev) -> None:
    """After a test: SIGTERM what the test started, then SIGKILL whatever is left, by pid."""
    if dev.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(dev.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            dev.process.wait(timeout=60)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(dev.process.pid, signal.SIGKILL)
    for pid in dev.started():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    dev.process.wait(timeout=30)
    for file in dev.extra:
        file.close()
