"""Starting, signalling and stopping a child process in its own session (its pid is also its
process group id), so that its own children are stopped with it.

:func:`die_with_parent` makes a child die with the process that started it, even when that
one is SIGKILLed: ``PR_SET_PDEATHSIG`` (Linux), set between fork and exec. The kernel sends
the signal when the *thread* that forked the child ends, so start such children from the
main thread only (the supervisor of ``registry-bridge dev`` does).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: signal.Signals = signal.SIGKILL) -> Callable[[], None] | None:
    """A ``preexec_fn`` for :class:`subprocess.Popen` that asks the kernel to send ``sig`` to
    the child once this process is gone; None where the kernel cannot (not Linux).

    The C library is loaded here, in the parent: between fork and exec the child only makes
    one call, and checks that its parent did not die before it could (then the signal would
    never come)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent = os.getpid()

    def arm() -> None:
        if prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return arm


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
