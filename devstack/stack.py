"""``registry-bridge dev`` (what ``make run`` starts): the one-minute local demo.

The embedded broker, then the explicit list of processes in :func:`dev_processes`: the
bridge, the three consumers and the dashboard on the SQLite store under ``./var/``, and,
when ``docker-registry`` is installed, a local registry wired to the bridge (no auth,
loopback only, storage under ``./var/registry``, deletes enabled) and the reconcile against
it (a backfill at start: the dashboard shows what the registry already holds). Once everything
answers, it prints the registry's notifications block, the URLs, and a skopeo command
that pushes a sample image. Ctrl-C, SIGTERM or SIGHUP stops it all, and no process outlives
it (:mod:`devstack.supervisor`). ``var/dev.pid`` says what runs, so that a second start in
the same directory explains instead of failing (:mod:`devstack.pidfile`); ``var/dev.log``
keeps a copy of the output; ``var/bridge-token`` keeps the bridge's token from one run to
the next, so a registry configured from the banner keeps working.

Every port is a flag; 0 (or a port already taken) means a free one, printed at start.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from common.environ import Environ
from common.logs import LogSettings
from consumers.handlers import HANDLERS
from consumers.settings import DEFAULT_DATABASE_URL
from devstack.broker import broker_command, broker_env, normal_broker_line
from devstack.console import Console
from devstack.ociimage import write_demo_layout
from devstack.pidfile import DemoRunning, PidFile, Running, own_record
from devstack.ports import DevPorts
from devstack.registry import Notifications, RegistryConfig, normal_log_line, recommended, registry_binary
from devstack.supervisor import ProcessSpec, Supervisor

VAR = Path("var")
TOKEN_FILE = "bridge-token"  # noqa: S105 - a file name
ENDPOINT = "registry-kafka-bridge"
BROKER_START = 15.0
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

    def notifications(self, url: str) -> Notifications:
        """What the registry is told, and what the banner prints: ``docs/registry-setup.md``'s
        recommendation."""
        return recommended(url, self.token, ENDPOINT)


def dev_processes(stack: DevStack) -> list[ProcessSpec]:
    """The processes of ``make run``, started in this order and stopped in reverse."""
    return [
        bridge_process(stack),
        *(consumer_process(stack, handler) for handler in HANDLERS),
        dashboard_process(stack),
        *([registry_process(stack), reconcile_process(stack)] if stack.registry_binary else []),
    ]


def demo_token(env: Environ, var: Path) -> str:
    """The bridge's token: the first of ``REGBRIDGE_AUTH_TOKENS`` when set, else the one kept
    in ``var/bridge-token``, made (owner-only) on the first run."""
    given = next(iter(env.secrets("AUTH_TOKENS")), "")
    if given:
        return given
    path = var / TOKEN_FILE
    if path.exists():
        kept = path.read_text(encoding="utf-8").strip()
        if kept:
            return kept
    token = secrets.token_urlsafe(24)
    var.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(token + "\n", encoding="utf-8")
    return token


def child_env(env: Environ, console_on_terminal: bool) -> dict[str, str]:
    """What every process of the stack gets: readable log lines when the operator watches a
    terminal (their own stdout is a pipe to the supervisor) and did not choose a format."""
    return (
        {"REGBRIDGE_LOG_FORMAT": "console"} if console_on_terminal and env.raw("LOG_FORMAT") is None else {}
    )


def dev_spool_dir(env: Environ, var: Path) -> str:
    """``REGBRIDGE_SPOOL_DIR`` when set (empty turns the spool off), else ``var/spool``."""
    chosen = env.raw("SPOOL_DIR")
    return str((var / "spool").resolve()) if chosen is None else chosen.strip()


def broker_process(stack: DevStack) -> ProcessSpec:
    """The embedded broker, a child like the others: started first, stopped last."""
    host, port = stack.bootstrap_servers.rsplit(":", 1)
    ports = (int(port),)
    argv, ready = broker_command(host, int(port)), f"tcp://{host}:{port}"
    return ProcessSpec("broker", argv, broker_env(), ready, ports, keep=normal_broker_line)


def bridge_process(stack: DevStack) -> ProcessSpec:
    env = {
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "REGBRIDGE_AUTH_TOKENS": stack.token,
        "REGBRIDGE_SPOOL_DIR": stack.spool_dir,
    }
    serve = ["serve", "--host", stack.host, "--port", str(stack.ports.bridge)]
    ready = stack.events_url.removesuffix("/events") + "/readyz"
    return ProcessSpec("bridge", [sys.executable, "-m", "bridge", *serve], env, ready, (stack.ports.bridge,))


def consumer_process(stack: DevStack, handler: str) -> ProcessSpec:
    port = stack.metrics_port(handler)
    env = {
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "REGBRIDGE_METRICS_HOST": "127.0.0.1",
    }
    argv = [sys.executable, "-m", "consumers", "run", handler, "--metrics-port", str(port)]
    return ProcessSpec(f"consumer-{handler}", argv, env, stack.url(port, "/healthz"), (port,))


def dashboard_process(stack: DevStack) -> ProcessSpec:
    """On loopback, anonymous (the page says so) unless REGBRIDGE_DASHBOARD_TOKENS is set;
    ready once ``/healthz`` answers, which needs no token either way."""
    port = stack.ports.dashboard
    argv = [sys.executable, "-m", "consumers", "dashboard", "--host", "127.0.0.1", "--port", str(port)]
    return ProcessSpec("dashboard", argv, {}, stack.url(port, "/healthz"), (port,))


def registry_process(stack: DevStack) -> ProcessSpec:
    argv = [str(stack.registry_binary), "serve", str(stack.registry_config_path)]
    ready = stack.url(stack.ports.registry, "/v2/")
    ports = (stack.ports.registry, stack.ports.registry_debug)
    return ProcessSpec("registry", argv, {}, ready, ports, keep=normal_log_line)


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
        notifications=stack.notifications(stack.events_url),
        log_level="warn",
    )


def registry_snippet(stack: DevStack, url: str | None = None) -> str:
    """The ``notifications`` block to paste into the registry's config.yml."""
    endpoint = stack.notifications(url or stack.advertised_events_url)
    return (
        "notifications:\n"
        "  endpoints:\n"
        f"    - name: {endpoint.name}\n"
        f"      url: {endpoint.url}\n"
        "      headers:\n"
        f"        Authorization: [Bearer {endpoint.token}]\n"
        f"      timeout: {endpoint.timeout}\n"
        f"      threshold: {endpoint.threshold}\n"
        f"      backoff: {endpoint.backoff}\n"
    )


def push_command(stack: DevStack, source: str) -> str:
    return (
        f"skopeo copy --dest-tls-verify=false {source} docker://127.0.0.1:{stack.ports.registry}/{DEMO_IMAGE}"
    )


def banner(stack: DevStack, source: str | None) -> str:
    """What to paste, open and run, once everything answers."""
    lines = [f"[dev] bridge ready: POST {stack.events_url} (its token is kept in {stack.var / TOKEN_FILE})"]
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
    lines.append(f"[dev] this output is also in {stack.var / 'dev.log'}; what runs: {stack.var / 'dev.pid'}")
    lines.append("[dev] Ctrl-C stops everything")
    return "\n".join(lines)


def _prepare_registry(stack: DevStack, console: Console) -> str | None:
    """Write the registry's config and the sample image; the ``oci:`` source, or None
    when there is no registry to run."""
    if not stack.registry_binary:
        console.line("[dev] docker-registry is not installed (make debian-deps): no local registry")
        return None
    registry_config(stack).write(stack.registry_config_path)
    return write_demo_layout(stack.demo_layout)


def run_dev(env: Environ, host: str, ports: DevPorts) -> int:
    """Run the local stack until Ctrl-C, SIGTERM or SIGHUP; the exit status (2: a demo of
    this directory is already running)."""
    LogSettings.from_environ(env)  # every process of the stack reads them: check them once, first
    since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    pidfile = PidFile(VAR / "dev.pid")
    try:
        pidfile.claim(own_record(Path.cwd(), since, []))
    except DemoRunning as running:
        print(f"registry-bridge dev: {running.explain()}", file=sys.stderr, flush=True)
        return 2
    console = Console(VAR / "dev.log")
    try:
        return _supervise(
            env, host, ports, console, lambda children: pidfile.write(own_record(Path.cwd(), since, children))
        )
    finally:
        console.close()
        pidfile.release()


def _supervise(
    env: Environ, host: str, ports: DevPorts, console: Console, record: Callable[[list[Running]], None]
) -> int:
    ports = ports.resolved()
    stack = DevStack(
        f"127.0.0.1:{ports.kafka}",
        demo_token(env, VAR),
        host,
        ports,
        registry_binary(),
        store=env.text("DATABASE_URL", DEFAULT_DATABASE_URL),
        spool_dir=dev_spool_dir(env, VAR),
    )
    supervisor = Supervisor(console, env=child_env(env, console.on_terminal))
    with supervisor.signals():
        try:
            supervisor.start([broker_process(stack)])
            record(supervisor.processes())
            if not supervisor.wait_ready(BROKER_START):
                return 0 if supervisor.stop_requested and supervisor.failed is None else 1
            console.line(f"[dev] embedded Kafka broker (Tansu, in memory) on {stack.bootstrap_servers}")
            source = _prepare_registry(stack, console)
            supervisor.start(dev_processes(stack))
            record(supervisor.processes())
            if supervisor.wait_ready():
                console.line(banner(stack, source))
            return supervisor.wait()
        finally:
            supervisor.stop()
            console.line("[dev] everything stopped")
