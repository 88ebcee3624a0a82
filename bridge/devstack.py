"""``registry-bridge dev`` (what ``make run`` starts): the embedded broker plus a small
supervisor over an explicit list of processes.

Later issues add the consumers, the dashboard and a local registry as one
:class:`ProcessSpec` line each in :func:`dev_processes`. Ctrl-C or SIGTERM stops every
process (SIGTERM, then SIGKILL after the grace period) and the broker; a second signal
stops them at once. If one process exits on its own, the others are stopped too.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

from bridge.embedded import EmbeddedBroker, port_open
from bridge.environ import Environ

STOP_GRACE = 15.0
DEV_SPOOL_DIR = "var/spool"
WILDCARDS = ("0.0.0.0", "::", "")


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """One supervised process: a name for the logs, its argv, and extra environment."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DevStack:
    """What the processes of the local stack share."""

    bootstrap_servers: str
    token: str
    host: str
    port: int
    spool_dir: str = ""  # REGBRIDGE_SPOOL_DIR for the bridge; "" turns the spool off

    @property
    def events_url(self) -> str:
        """What the registry should call: the host name when listening on every address."""
        host = socket.gethostname() if self.host in WILDCARDS else self.host
        return f"http://{host}:{self.port}/events"

    @property
    def local_url(self) -> str:
        host = "127.0.0.1" if self.host in WILDCARDS else self.host
        return f"http://{host}:{self.port}"


def dev_processes(stack: DevStack) -> list[ProcessSpec]:
    """The processes of ``make run``, started in this order and stopped in reverse."""
    kafka = {"REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers}
    bridge_env = {**kafka, "REGBRIDGE_AUTH_TOKENS": stack.token, "REGBRIDGE_SPOOL_DIR": stack.spool_dir}
    serve = ["serve", "--host", stack.host, "--port", str(stack.port)]
    return [
        ProcessSpec("bridge", [sys.executable, "-m", "bridge", *serve], bridge_env),
    ]


def dev_spool_dir(env: Environ) -> str:
    """``REGBRIDGE_SPOOL_DIR`` when set (empty turns the spool off), else ``var/spool``."""
    chosen = env.raw("SPOOL_DIR")
    return str(Path(DEV_SPOOL_DIR).resolve()) if chosen is None else chosen.strip()


def registry_snippet(stack: DevStack) -> str:
    """The ``notifications`` block to paste into the registry's config.yml."""
    return (
        "notifications:\n"
        "  endpoints:\n"
        "    - name: registry-kafka-bridge\n"
        f"      url: {stack.events_url}\n"
        "      headers:\n"
        f"        Authorization: [Bearer {stack.token}]\n"
        "      timeout: 1s\n"
        "      threshold: 10\n"
        "      backoff: 1s\n"
    )


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

    def wait(self) -> int:
        """Until a signal (0) or a process exits by itself (1)."""
        while not self.stop_requested:
            for spec, process in self.running:
                if process.poll() is not None:
                    print(f"[dev] {spec.name} exited with {process.returncode}; stopping", flush=True)
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


def wait_ready(stack: DevStack, supervisor: Supervisor, within: float = 30.0) -> bool:
    url = f"{stack.local_url}/readyz"
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and not supervisor.stop_requested:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return True
        time.sleep(0.2)
    return False


def run_dev(env: Environ, host: str, port: int, kafka_port: int) -> int:
    """Run the local stack until Ctrl-C or SIGTERM; the exit status."""
    token = next(iter(env.secrets("AUTH_TOKENS")), "") or secrets.token_urlsafe(24)
    if kafka_port and port_open("127.0.0.1", kafka_port):
        print(f"[dev] port {kafka_port} is taken; the embedded broker takes a free port", flush=True)
        kafka_port = 0
    broker = EmbeddedBroker(port=kafka_port)
    broker.start()
    stack = DevStack(broker.bootstrap_servers, token, host, port, dev_spool_dir(env))
    supervisor = Supervisor(dev_processes(stack))
    previous = {sig: signal.signal(sig, supervisor.on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"[dev] embedded Kafka broker (Tansu, in memory) on {broker.bootstrap_servers}", flush=True)
        supervisor.start()
        if wait_ready(stack, supervisor):
            print(f"[dev] bridge ready: POST {stack.events_url}", flush=True)
            print("[dev] paste this into the registry's config.yml:\n", flush=True)
            print(registry_snippet(stack), flush=True)
            print("[dev] Ctrl-C stops everything", flush=True)
        elif not supervisor.stop_requested:
            print(f"[dev] the bridge is not ready yet; see its log above ({stack.events_url})", flush=True)
        return supervisor.wait()
    finally:
        supervisor.stop()
        broker.stop()
        print("[dev] embedded broker stopped", flush=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
