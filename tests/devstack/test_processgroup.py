"""Children that die with their parent, and output that survives a closed stdout: the two
mechanisms the demo's supervisor is built on, each with small real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devstack.pidfile import process_start
from tests.support.paths import ROOT

PARENT = """
import subprocess, sys, time
from devstack.processgroup import die_with_parent
armed = die_with_parent() if sys.argv[1] == "armed" else None
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                         start_new_session=True, preexec_fn=armed)
print(child.pid, flush=True)
time.sleep(120)
"""


def _child_of_killed_parent(mode: str) -> tuple[int, int | None]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    started = process_start(child)
    parent.kill()
    parent.wait(timeout=10)
    return child, started


def _gone_within(pid: int, started: int | None, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process_start(pid) != started:
            return True
        time.sleep(0.05)
    return False


def test_a_child_dies_with_its_sigkilled_parent() -> None:
    child, started = _child_of_killed_parent("armed")
    assert _gone_within(child, started, 3.0)


def test_without_it_the_child_is_orphaned() -> None:
    """The control: the same child, not armed, outlives its parent (what the issue saw)."""
    child, started = _child_of_killed_parent("plain")
    try:
        assert not _gone_within(child, started, 1.0)
    finally:
        os.kill(child, signal.SIGKILL)


CONSOLE = """
import sys, time
from pathlib import Path
from devstack.console import Console
console = Console(Path(sys.argv[1]))
print("still in sys.stdout's buffer at exit", end="")
for n in range(200):
    console.line(f"line {n}")
    time.sleep(0.005)
console.close()
"""


def test_the_console_outlives_a_closed_stdout(tmp_path: Path) -> None:
    """The reader goes away after the first line (tee killed by Ctrl-C): every line still
    reaches the log, nothing raises, and the interpreter exits 0, its own flush of what
    ``print`` buffered included."""
    log = tmp_path / "dev.log"
    writer = subprocess.Popen(
        [sys.executable, "-c", CONSOLE, str(log)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert writer.stdout is not None and writer.stderr is not None
    assert b"line 0" in writer.stdout.readline()
    writer.stdout.close()
    assert writer.wait(timeout=60) == 0
    stderr = writer.stderr.read().decode()
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert log.read_text().splitlines() == [f"line {n}" for n in range(200)]
    assert "line 199" in stderr, "once stdout is gone, the lines go to stderr"
