"""The supervisor of ``registry-bridge dev``: an explicit list of processes, started in order,
stopped in reverse, none of which outlives it.

- Every child runs in its own session, so its process group (its own children included)
  can be signalled at once, and with ``PR_SET_PDEATHSIG``
  (:func:`devstack.processgroup.die_with_parent`): if the supervisor itself is SIGKILLed,
  the kernel kills each child at once. Nothing is lost by that: the bridge's spool is on
  disk and what the consumers had not committed is read again.
- SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal closed) are handled alike: the handler
  only sets a flag (:meth:`Supervisor.on_signal`), and the main loop stops every process,
  last started first (SIGTERM, then SIGKILL after the grace period). A second signal stops
  them at once. If one process exits on its own, the others are stopped too.
- A child's stdout and stderr come to the supervisor through a pipe and go out through its
  :class:`~devstack.console.Console`, which survives a closed stdout: no child ever writes
  to a broken pipe, and ``ProcessSpec.keep`` can drop a process's known noise.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import IO
from urllib.parse import urlsplit

import httpx

from devstack.console import Console
from devstack.pidfile import Running
from devstack.ports import port_open
from devstack.processgroup import die_with_parent

STOP_GRACE = 15.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """One supervised process: a name for the logs, its argv, extra environment, what
    answers once it is ready (an ``http://`` URL answering 200, a ``tcp://host:port``
    accepting connections, or empty: ready when started), the ports it listens on (for the
    pid file), and ``keep``, which drops lines of its output it returns False for."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    ready_url: str = ""
    ports: tuple[int, ...] = ()
    keep: Callable[[str], bool] | None = None


@dataclass(slots=True)
class Child:
    spec: ProcessSpec
    process: subprocess.Popen[bytes]
    relay: threading.Thread
    ready: bool = False


class Supervisor:
    """Starts processes, watches them, and stops them all (reverse order)."""

    def __init__(
        self, console: Console, *, env: Mapping[str, str] | None = None, grace: float = STOP_GRACE
    ) -> None:
        self.console = console
        self.env = dict(env or {})  # for every child, under each spec's own
        self.grace = grace
        self.children: list[Child] = []
        self.stop_requested = False
        self.force = False
        self.failed: Child | None = None

    def start(self, specs: Sequence[ProcessSpec]) -> None:
        """Start ``specs`` in order (from the main thread: see :func:`die_with_parent`)."""
        for spec in specs:
            process = subprocess.Popen(
                list(spec.argv),
                env={**os.environ, **self.env, **spec.env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(),  # one libc call between fork and exec
            )
            assert process.stdout is not None
            relay = threading.Thread(
                target=self._relay, args=(spec, process.stdout), name=f"output-{spec.name}", daemon=True
            )
            relay.start()
            self.children.append(Child(spec, process, relay))

    def processes(self) -> list[Running]:
        """The children, for the pid file."""
        return [Running.of(c.spec.name, c.process.pid, c.spec.ports) for c in self.children]

    @contextlib.contextmanager
    def signals(self) -> Iterator[None]:
        """SIGINT, SIGTERM and SIGHUP request a stop while inside."""
        previous = {sig: signal.signal(sig, self.on_signal) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def on_signal(self, sig: int, frame: FrameType | None) -> None:
        self.force = self.stop_requested
        self.stop_requested = True

    def exited(self) -> Child | None:
        """The first process that exited by itself, if any (said once)."""
        if self.failed is None:
            for child in self.children:
                if child.process.poll() is not None:
                    self.console.line(
                        f"[dev] {child.spec.name} exited with {child.process.returncode}; stopping"
                    )
                    self.failed = child
                    break
        return self.failed

    def wait_ready(self, within: float = 90.0) -> bool:
        """Until every process started so far is ready; False on a signal, an exit or the
        time limit."""
        deadline = time.monotonic() + within
        waiting = [child for child in self.children if not child.ready]
        while waiting and time.monotonic() < deadline:
            if self.stop_requested or self.exited():
                return False
            for child in waiting:
                child.ready = _answers(child.spec.ready_url)
            waiting = [child for child in waiting if not child.ready]
            if waiting:
                time.sleep(0.2)
        for child in waiting:
            self.console.line(
                f"[dev] {child.spec.name} is not ready at {child.spec.ready_url}; see its log above"
            )
        return not waiting

    def wait(self) -> int:
        """Until a signal (0) or a process exits by itself (1)."""
        while not self.stop_requested:
            if self.exited():
                return 1
            time.sleep(0.2)
        return 0

    def stop(self) -> None:
        for child in reversed(self.children):
            self._stop_one(child)
        self.children.clear()

    def _stop_one(self, child: Child) -> None:
        process = child.process
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL if self.force else signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while process.poll() is None and time.monotonic() < deadline and not self.force:
            time.sleep(0.05)
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        child.relay.join(timeout=2)  # the rest of its output, up to its end
        self.console.line(f"[dev] {child.spec.name} stopped ({process.returncode})")

    def _relay(self, spec: ProcessSpec, stream: IO[bytes]) -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                text = raw.decode(errors="replace").rstrip("\r\n")
                if spec.keep is None or spec.keep(text):
                    self.console.line(text)


def _answers(ready: str) -> bool:
    if not ready:
        return True
    parts = urlsplit(ready)
    if parts.scheme == "tcp":
        return port_open(parts.hostname or "127.0.0.1", parts.port or 0)
    try:
        return httpx.get(ready, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
