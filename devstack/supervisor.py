"""A small supervisor for ``registry-bridge dev``: an explicit list of processes, each in its
own process group, started in order and stopped in reverse.

Ctrl-C or SIGTERM only sets a flag (:meth:`Supervisor.on_signal`); the main loop then
stops every process (SIGTERM, then SIGKILL after the grace period). A second signal
stops them at once. If one process exits on its own, the others are stopped too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType

import httpx

STOP_GRACE = 15.0


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """One supervised process: a name for the logs, its argv, extra environment, and the
    URL that answers 200 once it is ready (empty: ready when started)."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    ready_url: str = ""


class Supervisor:
    """Starts processes, watches them, and stops them all (reverse order)."""

    def __init__(self, specs: Sequence[ProcessSpec], grace: float = STOP_GRACE) -> None:
        self.specs = list(specs)
        self.grace = grace
        self.running: list[tuple[ProcessSpec, subprocess.Popen[bytes]]] = []
        self.stop_requested = False
        self.force = False

    def start(self) -> None:
        for spec in self.specs:
            env = {**os.environ, **spec.env}
            process = subprocess.Popen(list(spec.argv), env=env, start_new_session=True)
            self.running.append((spec, process))

    def on_signal(self, sig: int, frame: FrameType | None) -> None:
        self.force = self.stop_requested
        self.stop_requested = True

    def exited(self) -> ProcessSpec | None:
        """The first process that exited by itself, if any."""
        for spec, process in self.running:
            if process.poll() is not None:
                print(f"[dev] {spec.name} exited with {process.returncode}; stopping", flush=True)
                return spec
        return None

    def wait_ready(self, within: float = 90.0) -> bool:
        """Until every ready URL answers 200; False on a signal, an exit or the time limit."""
        deadline = time.monotonic() + within
        waiting = [spec for spec in self.specs if spec.ready_url]
        while waiting and time.monotonic() < deadline:
            if self.stop_requested or self.exited():
                return False
            waiting = [spec for spec in waiting if not _answers(spec.ready_url)]
            if waiting:
                time.sleep(0.2)
        for spec in waiting:
            print(f"[dev] {spec.name} is not ready at {spec.ready_url}; see its log above", flush=True)
        return not waiting

    def wait(self) -> int:
        """Until a signal (0) or a process exits by itself (1)."""
        while not self.stop_requested:
            if self.exited():
                return 1
            time.sleep(0.2)
        return 0

    def stop(self) -> None:
        for spec, process in reversed(self.running):
            self._stop_one(spec, process)
        self.running.clear()

    def _stop_one(self, spec: ProcessSpec, process: subprocess.Popen[bytes]) -> None:
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
        print(f"[dev] {spec.name} stopped ({process.returncode})", flush=True)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
