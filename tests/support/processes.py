"""Running the project's commands as separate processes, the way an operator does.

:class:`ServiceProcess` starts one command in its own process group with a given
environment, logs to a file, waits until an HTTP URL answers 200, and stops with SIGTERM
(then SIGKILL after a grace period). A process that exits or never gets ready raises
:class:`ProcessFailed` with the tail of its log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

from devstack.processgroup import signal_group, stop_group


class ProcessFailed(RuntimeError):
    """The process exited early or did not become ready in time."""


def venv_command(name: str) -> str:
    """A console script of this environment (``.venv/bin/<name>``), else one on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise ProcessFailed(f"{name} is not installed: run `make venv`")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """This machine's environment without any inherited ``REGBRIDGE_*`` variable (an
    operator's settings must not leak into a test's processes), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGBRIDGE_")}
    return {**env, **extra}


class ServiceProcess:
    """One long-running command; use it as a context manager or call start/stop."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        log_dir: Path,
        ready_url: str | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.env = clean_env(**env)
        self.log_path = log_dir / f"{name}.log"
        self.ready_url = ready_url
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        if self.ready_url:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        assert self.ready_url
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise ProcessFailed(f"{self.name} exited ({self.returncode()}):\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.ready_url, timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        raise ProcessFailed(f"{self.name} not ready at {self.ready_url} after {timeout}s:\n{tail}")

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit on its own; returns its exit code."""
        if self._process is None:
            raise ProcessFailed(f"{self.name} was never started")
        return self._process.wait(timeout=timeout)

    def returncode(self) -> int | None:
        return self._process.poll() if self._process else None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def signal(self, sig: signal.Signals) -> None:
        signal_group(self._process, sig)

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, wait ``grace`` seconds, then SIGKILL; returns the exit code."""
        return None if self._process is None else stop_group(self._process, grace)

    def __enter__(self) -> ServiceProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
