"""Ports of the local stack: finding free ones, and :class:`DevPorts`, what ``registry-bridge
dev`` was asked for, resolved to ports that are free right now."""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass

from consumers.settings import DEFAULT_METRICS_PORTS


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class DevPorts:
    """The ports asked for on the command line (0: any free one)."""

    bridge: int = 5080
    kafka: int = 9092
    registry: int = 5000
    registry_debug: int = 5001
    dashboard: int = 8090
    metrics: int = DEFAULT_METRICS_PORTS["push"]  # the push consumer's; pull and other take the next two

    def resolved(self) -> DevPorts:
        """Distinct ports, each free to bind now: a taken one is swapped for a free one."""
        chosen: set[int] = set()
        names = ("bridge", "kafka", "registry", "registry_debug", "dashboard")
        ports = {name: _pick(getattr(self, name), name.replace("_", " "), chosen) for name in names}
        return DevPorts(**ports, metrics=_pick_run(self.metrics, 3, "consumer metrics", chosen))


# Free ports are drawn below the kernel's ephemeral range (32768-60999 by default), where
# connect() takes the source ports of outgoing connections: a port picked there can be taken
# by one of the stack's own Kafka or HTTP connections before its server binds it (seen: the
# pull consumer's metrics port, the one after an odd port that bind(0) returned).
SPARE_PORTS = range(20000, 32000)


def bindable(port: int, host: str = "127.0.0.1") -> bool:
    """True when a server could bind ``host:port`` now (nothing listens or holds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _usable(port: int, chosen: set[int]) -> bool:
    return 0 < port <= 65535 and port not in chosen and bindable(port)


def _pick_run(first: int, count: int, what: str, chosen: set[int]) -> int:
    """The first of ``count`` consecutive usable ports, starting at ``first`` if it can."""
    candidate = first
    for _ in range(200):
        if candidate and all(_usable(candidate + i, chosen) for i in range(count)):
            chosen.update(range(candidate, candidate + count))
            return candidate
        if candidate and candidate == first:
            print(f"[dev] port {first} ({what}) is taken; using a free port", flush=True)
        candidate = random.randrange(SPARE_PORTS.start, SPARE_PORTS.stop - count)  # noqa: S311 - not a secret
    raise RuntimeError(f"no {count} consecutive free ports for the {what}")


def _pick(port: int, what: str, chosen: set[int]) -> int:
    return _pick_run(port, 1, what, chosen)
