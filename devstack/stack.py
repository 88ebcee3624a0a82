"""``registry-bridge dev`` (what ``make run`` starts): the one-minute local demo.

The embedded broker, then the explicit list of processes in :func:`dev_processes`: the
bridge, the three consumers and the dashboard on the SQLite store under ``./var/``, and,
when ``docker-registry`` is installed, a local registry wired to the bridge (no auth,
loopback only, storage under ``./var/registry``, deletes enabled) and the reconcile against
it (a backfill at start: the dashboard shows what the registry already holds). Once everything
answers, it prints the registry's notifications block, the URLs, and a skopeo command
that pushes a sample image. Ctrl-C or SIGTERM stops it all (:mod:`devstack.supervisor`).

Every port is a flag; 0 (or a port already taken) means a free one, printed at start.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from common.environ import Environ
from common.logs import LogSettings
from consumers.handlers import HANDLERS
from consumers.settings import DEFAULT_DATABASE_URL
from devstack.broker import EmbeddedBroker
from devstack.ociimage import write_demo_layout
from devstack.ports import DevPorts
from devstack.registry import Notifications, RegistryConfig, registry_binary
from devstack.supervisor import ProcessSpec, Supervisor

VAR = Path("var")
WILDCARDS = ("0.0.0.0", "::", "")
DEMO_IMAGE = "demo/hello:v1"


@dataclass(frozen=True, slots=True)
class DevStack:
    """What the processes of the local stack share."""

    bootstrap_servers: str
    token: str
    host: str
    ports: DevPorts
    registry_binary: str | None = None
    var: Path = VAR
    store: str = DEFAULT_DATABASE_URL
    spool_dir: str = ""  # REGBRIDGE_SPOOL_DIR for the bridge; "" turns the spool off

    @property
    def events_url(self) -> str:
        """Where the local registry posts: a wildcard listen address is reached on loopback."""
        host = "127.0.0.1" if self.host in WILDCARDS else self.host
        return f"http://{host}:{self.ports.bridge}/events"

    @property
    def advertised_events_url(self) -> str:
        """What a registry elsewhere should call: this host's name when listening on every address."""
        host = socket.gethostname() if self.host in WILDCARDS else self.host
        return f"http://{host}:{self.ports.bridge}/events"

    def url(self, port: int, path: str = "/") -> str:
        return f"http://127.0.0.1:{port}{path}"

    def metrics_port(self, handler: str) -> int:
        return self.ports.metrics + list(HANDLERS).index(handler)

    @property
    def registry_config_path(self) -> Path:
        return self.var / "registry.yml"

    @property
    def demo_layout(self) -> Path:
        return self.var / "demo-image"


def dev_processes(stack: DevStack) -> list[ProcessSpec]:
    """The processes of ``make run``, started in this order and stopped in reverse."""
    return [
        bridge_process(stack),
        *(consumer_process(stack, handler) for handler in HANDLERS),
        dashboard_process(stack),
        *([registry_process(stack), reconcile_process(stack)] if stack.registry_binary else []),
    ]


def dev_spool_dir(env: Environ, var: Path) -> str:
    """``REGBRIDGE_SPOOL_DIR`` when set (empty turns the spool off), else ``var/spool``."""
    chosen = env.raw("SPOOL_DIR")
    return str((var / "spool").resolve()) if chosen is None else chosen.strip()


def bridge_process(stack: DevStack) -> ProcessSpec:
    env = {
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "REGBRIDGE_AUTH_TOKENS": stack.token,
        "REGBRIDGE_SPOOL_DIR": stack.spool_dir,
    }
    serve = ["serve", "--host", stack.host, "--port", str(stack.ports.bridge)]
    ready = stack.events_url.removesuffix("/events") + "/readyz"
    return ProcessSpec("bridge", [sys.executable, "-m", "bridge", *serve], env, ready)


def consumer_process(stack: DevStack, handler: str) -> ProcessSpec:
    port = stack.metrics_port(handler)
    env = {
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "REGBRIDGE_METRICS_HOST": "127.0.0.1",
    }
    argv = [sys.executable, "-m", "consumers", "run", handler, "--metrics-port", str(port)]
    return ProcessSpec(f"consumer-{handler}", argv, env, stack.url(port, "/healthz"))


def dashboard_process(stack: DevStack) -> ProcessSpec:
    port = stack.ports.dashboard
    argv = [sys.executable, "-m", "consumers", "dashboard", "--host", "127.0.0.1", "--port", str(port)]
    return ProcessSpec("dashboard", argv, {}, stack.url(port, "/api/v1/health"))


def registry_process(stack: DevStack) -> ProcessSpec:
    argv = [str(stack.registry_binary), "serve", str(stack.registry_config_path)]
    return ProcessSpec("registry", argv, {}, stack.url(stack.ports.registry, "/v2/"))


def reconcile_process(stack: DevStack) -> ProcessSpec:
    """``run reconcile`` against the local registry (metrics on the port after the consumers')."""
    port = stack.ports.metrics + len(HANDLERS)
    env = {
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "REGBRIDGE_REGISTRY_URL": stack.url(stack.ports.registry).rstrip("/"),
        "REGBRIDGE_METRICS_HOST": "127.0.0.1",
    }
    argv = [sys.executable, "-m", "consumers", "run", "reconcile", "--metrics-port", str(port)]
    return ProcessSpec("reconcile", argv, env, stack.url(port, "/healthz"))


def registry_config(stack: DevStack) -> RegistryConfig:
    """The demo registry: no auth (loopback only), notifying the bridge with the token."""
    return RegistryConfig(
        addr=f"127.0.0.1:{stack.ports.registry}",
        debug_addr=f"127.0.0.1:{stack.ports.registry_debug}",
        storage_dir=(stack.var / "registry").resolve(),
        secret=secrets.token_hex(16),
        notifications=Notifications(stack.events_url, stack.token, name="registry-kafka-bridge"),
        log_level="warn",
    )


def registry_snippet(stack: DevStack, url: str | None = None) -> str:
    """The ``notifications`` block to paste into the registry's config.yml."""
    return (
        "notifications:\n"
        "  endpoints:\n"
        "    - name: registry-kafka-bridge\n"
        f"      url: {url or stack.advertised_events_url}\n"
        "      headers:\n"
        f"        Authorization: [Bearer {stack.token}]\n"
        "      timeout: 1s\n"
        "      threshold: 10\n"
        "      backoff: 1s\n"
    )


def push_command(stack: DevStack, source: str) -> str:
    return (
        f"skopeo copy --dest-tls-verify=false {source} docker://127.0.0.1:{stack.ports.registry}/{DEMO_IMAGE}"
    )


def banner(stack: DevStack, source: str | None) -> str:
    """What to paste, open and run, once everything answers."""
    lines = [f"[dev] bridge ready: POST {stack.events_url}"]
    if source is None:
        lines += ["[dev] paste this into the registry's config.yml:", "", registry_snippet(stack)]
    else:
        lines += [f"[dev] the local registry ({stack.registry_config_path}) notifies the bridge with:", ""]
        lines += [registry_snippet(stack, stack.events_url)]
    lines.append(f"[dev] dashboard: {stack.url(stack.ports.dashboard)}")
    metrics = ", ".join(f"{h} {stack.url(stack.metrics_port(h), '/metrics')}" for h in HANDLERS)
    store = stack.store if stack.store.startswith("sqlite") else "REGBRIDGE_DATABASE_URL"
    lines.append(f"[dev] consumers' metrics: {metrics}; store: {store}")
    if source is not None:
        debug = stack.url(stack.ports.registry_debug, "/debug/vars")
        lines.append(f"[dev] registry: {stack.url(stack.ports.registry)} (no auth; its counters: {debug})")
        lines += ["[dev] push a sample image:", "", f"    {push_command(stack, source)}", ""]
        if shutil.which("skopeo") is None:
            lines.append("[dev] (skopeo is not installed: make debian-deps, or apt-get install skopeo)")
    lines.append("[dev] Ctrl-C stops everything")
    return "\n".join(lines)


def _prepare_registry(stack: DevStack) -> str | None:
    """Write the registry's config and the sample image; the ``oci:`` source, or None
    when there is no registry to run."""
    if not stack.registry_binary:
        print("[dev] docker-registry is not installed (make debian-deps): no local registry", flush=True)
        return None
    registry_config(stack).write(stack.registry_config_path)
    return write_demo_layout(stack.demo_layout)


def run_dev(env: Environ, host: str, ports: DevPorts) -> int:
    """Run the local stack until Ctrl-C or SIGTERM; the exit status."""
    LogSettings.from_environ(env)  # every process of the stack reads them: check them once, first
    token = next(iter(env.secrets("AUTH_TOKENS")), "") or secrets.token_urlsafe(24)
    ports = ports.resolved()
    broker = EmbeddedBroker(port=ports.kafka)
    broker.start()
    store = env.text("DATABASE_URL", DEFAULT_DATABASE_URL)
    stack = DevStack(
        broker.bootstrap_servers,
        token,
        host,
        ports,
        registry_binary(),
        store=store,
        spool_dir=dev_spool_dir(env, VAR),
    )
    supervisor = Supervisor(dev_processes(stack))
    previous = {sig: signal.signal(sig, supervisor.on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"[dev] embedded Kafka broker (Tansu, in memory) on {broker.bootstrap_servers}", flush=True)
        source = _prepare_registry(stack)
        supervisor.start()
        if supervisor.wait_ready():
            print(banner(stack, source), flush=True)
        return supervisor.wait()
    finally:
        supervisor.stop()
        broker.stop()
        print("[dev] embedded broker stopped", flush=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
