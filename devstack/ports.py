"""Ports of the local stack: finding free ones, and :class:`DevPorts`, what ``registry-bridge
dev`` was asked for, resolved to ports that are free right now."""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass
from pathlib import Path

from consumers.settings import DEFAULT_METRICS_PORTS


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel hands out for outgoing connections (and for ``bind(0)``)."""
    try:
        low, high = (int(p) for p in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return 32768, 60999
    return low, high


def can_bind(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def listen_port(host: str = "127.0.0.1") -> int:
    """A free port for a server that binds it later, chosen below the ephemeral range: a
    port from :func:`free_port` can be taken by any outgoing connection in between (on a
    busy machine, one of thousands), one below the range cannot. Falls back to
    :func:`free_port` when nothing there is free."""
    low, _ = ephemeral_range()
    first = min(20000, max(1024, low // 2))
    for _ in range(64):
        port = random.randint(first, low - 1)  # noqa: S311 - spreading choices, not secrets
        if can_bind(host, port) and not port_open(host, port):
            return port
    return free_port(host)


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
    metrics: int = DEFAULT_METRICS_PORTS["push"]  # the push consumer's; pull, other, reconcile the next three

    def resolved(self) -> DevPorts:
        """Distinct ports, each free to bind now: a taken one is swapped for a free one."""
        chosen: set[int] = set()
        names = ("bridge", "kafka", "registry", "registry_debug", "dashboard")
        ports = {name: _pick(getattr(self, name), name.replace("_", " "), chosen) for name in names}
        return DevPorts(**ports, metrics=_pick_run(self.metrics, 4, "consumer metrics", chosen))


def _usable(port: int, chosen: set[int]) -> bool:
    return (
        0 < port <= 65535
        and port not in chosen
        and can_bind("127.0.0.1", port)
        and not port_open("127.0.0.1", port)
    )


def _pick_run(first: int, count: int, what: str, chosen: set[int]) -> int:
    """The first of ``count`` consecutive usable ports, starting at ``first`` if it can."""
    candidate = first
    for _ in range(100):
        if candidate and all(_usable(candidate + i, chosen) for i in range(count)):
            chosen.update(range(candidate, candidate + count))
            return candidate
        if candidate and candidate == first:
            print(f"[dev] port {first} ({what}) is taken; using a free port", flush=True)
        candidate = listen_port()
    raise RuntimeError(f"no {count} consecutive free ports for the {what}")


def _pick(port: int, what: str, chosen: set[int]) -> int:
    return _pick_run(port, 1, what, chosen)
