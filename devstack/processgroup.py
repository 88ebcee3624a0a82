"""Signalling and stopping a child process started in its own session (its pid is also its
process group id), so that its own children are stopped with it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def signal_group(process: subprocess.Popen[bytes] | None, sig: signal.Signals) -> None:
    """Send ``sig`` to the process's group while the process runs."""
    if process is not None and process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)


def stop_group(process: subprocess.Popen[bytes], grace: float) -> int:
    """SIGTERM the group, wait up to ``grace`` seconds, then SIGKILL; the exit code."""
    if process.poll() is None:
        signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            signal_group(process, signal.SIGKILL)
            process.wait(timeout=grace)
    return int(process.returncode)
