"""What ``registry-bridge dev`` shows the operator: its own lines and those of every process it
supervises, written to stdout and copied to a log file (``var/dev.log``).

Stdout can go away while the demo runs: ``make run | tee run.log`` and Ctrl-C kills ``tee``
first (a broken pipe), closing the terminal hangs it up (EIO). :class:`Console` then carries
on: it points file descriptor 1 at ``/dev/null`` (so no later write, and no flush at exit,
fails), writes to stderr instead while that works, and keeps the log file either way. The
stop sequence never dies of a write.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path
from typing import BinaryIO

STDOUT, STDERR = 1, 2


class Console:
    """Line output that survives its stdout. Thread-safe: the supervisor's output readers
    and its main loop write through one instance."""

    def __init__(self, log_path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._targets = [STDOUT, STDERR]
        self._log: BinaryIO | None = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(log_path, "wb")  # noqa: SIM115 - kept open until close()

    @property
    def on_terminal(self) -> bool:
        """True while the lines go to a terminal's stdout."""
        return bool(self._targets) and self._targets[0] == STDOUT and os.isatty(STDOUT)

    def line(self, text: str) -> None:
        data = (text.rstrip("\n") + "\n").encode(errors="replace")
        with self._lock:
            self._copy(data)
            while self._targets:
                try:
                    _write_all(self._targets[0], data)
                    return
                except OSError:
                    self._lost(self._targets.pop(0))

    def close(self) -> None:
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None

    def _copy(self, data: bytes) -> None:
        if self._log is not None:
            try:
                self._log.write(data)
                self._log.flush()
            except OSError:
                self._log = None

    def _lost(self, fd: int) -> None:
        """``fd`` is gone: point it at /dev/null, so that the interpreter's own flush at exit
        (and any stray print) succeeds instead of raising."""
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)
        stream = sys.stdout if fd == STDOUT else sys.stderr
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()  # what it still buffered now goes to /dev/null


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
