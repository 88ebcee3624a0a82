"""A real registry for the tests: the Debian ``docker-registry`` (CNCF distribution 2.8.2).

:class:`LocalRegistry` writes a config (htpasswd auth with bcrypt hashes, deletes enabled,
storage in a temporary directory, notifications pointed at a URL with a bearer token,
the debug server on a free port), starts the binary in its own process group on
127.0.0.1, and reads the per-endpoint notification counters from ``/debug/vars``.
Instead of htpasswd it can run with no auth (``auth=None``) or with ``auth: token``
(:class:`TokenAuth`, served by ``tests/support/token_server.py``), and over TLS.
``restart()`` stops and starts it on the same ports and storage: a new instance id, and
its notification queue lost.

The config itself is :class:`devstack.registry.RegistryConfig`, the one ``registry-bridge
dev`` runs. There is no skip: a missing binary raises :class:`RegistryError`, which fails
the test with a message saying what to install.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import bcrypt
import httpx
import yaml

from devstack.ports import free_port, port_open
from devstack.processgroup import stop_group
from devstack.registry import ENDPOINT_NAME, REGISTRY_BINARY, Notifications, RegistryConfig
from devstack.registry import registry_binary as find_registry_binary

DEBIAN_PACKAGE = "docker-registry"
DEFAULT_USERS: Mapping[str, str] = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}


class RegistryError(RuntimeError):
    """The registry binary is missing, did not start, or its debug endpoint is unreadable."""


def registry_binary() -> str:
    """The path of ``docker-registry``; raises with an install hint when it is missing."""
    found = find_registry_binary()
    if not found:
        raise RegistryError(
            f"{REGISTRY_BINARY} is not installed: run `make debian-deps` "
            f"(apt-get install {DEBIAN_PACKAGE}, CNCF distribution 2.8.2)"
        )
    return found


def htpasswd_lines(users: Mapping[str, str], rounds: int = 5) -> str:
    """An htpasswd file body with bcrypt hashes, the only scheme distribution accepts.

    Low cost rounds keep each authenticated request cheap on a shared 2-core machine;
    the ``$2y$`` prefix is what Apache's ``htpasswd -B`` writes.
    """
    lines = []
    for user, password in users.items():
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()
        lines.append(f"{user}:$2y${hashed[4:]}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class TokenAuth:
    """``auth: token``: the registry trusts JWTs signed by the key of a certificate in
    ``rootcertbundle`` (distribution checks the ``x5c`` chain against it)."""

    realm: str
    service: str
    issuer: str
    rootcertbundle: Path

    def config(self) -> dict[str, Any]:
        return {
            "token": {
                "realm": self.realm,
                "service": self.service,
                "issuer": self.issuer,
                "rootcertbundle": str(self.rootcertbundle),
            }
        }


@dataclass(frozen=True)
class ServerCert:
    """``http.tls`` of the registry: PEM files; ``ca_file`` is what clients trust."""

    cert_file: Path
    key_file: Path
    ca_file: Path


HTPASSWD = "htpasswd"
RegistryAuthMode = TokenAuth | str | None


@dataclass(frozen=True)
class EndpointCounters:
    """One notification endpoint's counters, as the registry reports them.

    ``events`` were queued, ``successes`` delivered with a 2xx/3xx answer, ``failures``
    answered with another status, ``errors`` hit a network error; ``pending`` still wait.
    """

    name: str
    url: str
    pending: int
    events: int
    successes: int
    failures: int
    errors: int
    statuses: Mapping[str, int] = field(default_factory=dict)
    headers: Mapping[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_debug_vars(cls, endpoint: Mapping[str, Any]) -> EndpointCounters:
        metrics = endpoint.get("Metrics") or {}
        return cls(
            name=str(endpoint.get("name", "")),
            url=str(endpoint.get("url", "")),
            pending=int(metrics.get("Pending", 0)),
            events=int(metrics.get("Events", 0)),
            successes=int(metrics.get("Successes", 0)),
            failures=int(metrics.get("Failures", 0)),
            errors=int(metrics.get("Errors", 0)),
            statuses=dict(metrics.get("Statuses") or {}),
            headers=dict(endpoint.get("Headers") or {}),
        )


def notification_counters(debug_vars: Mapping[str, Any]) -> dict[str, EndpointCounters]:
    """The per-endpoint counters in a ``/debug/vars`` document, keyed by endpoint name (for a
    caller polling with a client of its own: a new ``httpx`` client per read costs ~10 ms of CPU)."""
    registry = debug_vars.get("registry") or {}
    endpoints = (registry.get("notifications") or {}).get("endpoints") or []
    return {e["name"]: EndpointCounters.from_debug_vars(e) for e in endpoints}


class LocalRegistry:
    """One ``docker-registry serve`` process on 127.0.0.1, in its own process group.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. ``workdir`` holds
    the config, the htpasswd file, the storage and the log.
    """

    def __init__(
        self,
        workdir: Path,
        notifications: Notifications | None = None,
        users: Mapping[str, str] = DEFAULT_USERS,
        host: str = "127.0.0.1",
        config: Mapping[str, Any] | None = None,
        auth: RegistryAuthMode = HTPASSWD,
        tls: ServerCert | None = None,
    ) -> None:
        """``config``: run this registry config instead of the generated one (for example the
        compose stack's). Either way the address, debug address, storage and htpasswd path
        come from ``REGISTRY_*`` environment overrides, so they are always local and free.
        ``auth=None``: no htpasswd (a load generator then spends no bcrypt per request)."""
        self.workdir = workdir
        self.notifications = notifications
        self.given_config = dict(config) if config is not None else None
        self.users = dict(users)
        self.auth = auth
        self.tls = tls
        self.host = host
        self.port = free_port(host)
        self.debug_port = free_port(host)
        self.config_path = workdir / "registry.yml"
        self.htpasswd_path = workdir / "htpasswd"
        self.storage_dir = workdir / "storage"
        self.log_path = workdir / "registry.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """``host:port``, as skopeo and image references want it."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.address}"

    @property
    def debug_url(self) -> str:
        return f"http://{self.host}:{self.debug_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def credentials(self, user: str) -> tuple[str, str]:
        return user, self.users[user]

    def config(self) -> dict[str, Any]:
        """The registry configuration this instance runs with."""
        config = RegistryConfig(
            addr=self.address,
            debug_addr=f"{self.host}:{self.debug_port}",
            storage_dir=self.storage_dir,
            secret="e2e-" + os.urandom(8).hex(),
            notifications=self.notifications,
            htpasswd=self.htpasswd_path if self.auth == HTPASSWD else None,
            realm="registry-kafka-bridge-tests",
        ).as_dict()
        if isinstance(self.auth, TokenAuth):
            config["auth"] = self.auth.config()
        if self.tls is not None:
            config["http"]["tls"] = {"certificate": str(self.tls.cert_file), "key": str(self.tls.key_file)}
        return config

    def environment_overrides(self) -> dict[str, str]:
        """``REGISTRY_<SECTION>_<KEY>`` variables override the config file (distribution's rule)."""
        overrides = {
            "REGISTRY_HTTP_ADDR": self.address,
            "REGISTRY_HTTP_DEBUG_ADDR": f"{self.host}:{self.debug_port}",
            "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(self.storage_dir),
        }
        if self.auth == HTPASSWD:
            overrides["REGISTRY_AUTH_HTPASSWD_PATH"] = str(self.htpasswd_path)
        return overrides

    def start(self, timeout: float = 20.0, attempts: int = 3) -> None:
        """Start and wait until both ports answer. Another process can grab a free port between
        choosing it and binding it (the machine is shared), so that case retries on new ports."""
        binary = registry_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage_dir.mkdir(exist_ok=True)
        self.htpasswd_path.write_text(htpasswd_lines(self.users))
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(binary, timeout)
                return
            except RegistryError as exc:
                if attempt == attempts or "address already in use" not in str(exc):
                    raise
                self.port, self.debug_port = free_port(self.host), free_port(self.host)

    def _start_once(self, binary: str, timeout: float) -> None:
        config = self.given_config if self.given_config is not None else self.config()
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [binary, "serve", str(self.config_path)],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.workdir,
                env={**os.environ, **self.environment_overrides()},
            )
        deadline = time.monotonic() + timeout
        while not (self._answers() and port_open(self.host, self.debug_port)):
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise RegistryError(f"docker-registry did not start on {self.address}:\n{tail}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        """Our registry answers ``/v2/`` (401 with auth on, else 200), and our process is alive."""
        if not port_open(self.host, self.port):
            return False
        verify: Any = ssl.create_default_context(cafile=str(self.tls.ca_file)) if self.tls else True
        try:
            status = httpx.get(f"{self.url}/v2/", timeout=2.0, verify=verify).status_code
        except httpx.HTTPError:
            return False
        expected = 200 if self.auth is None else 401
        return status == expected and self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def debug_vars(self) -> dict[str, Any]:
        try:
            response = httpx.get(f"{self.debug_url}/debug/vars", timeout=5.0)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RegistryError(f"cannot read {self.debug_url}/debug/vars: {exc}") from exc
        decoded = response.json()
        if not isinstance(decoded, dict):
            raise RegistryError("/debug/vars is not a JSON object")
        return decoded

    def notification_counters(self) -> dict[str, EndpointCounters]:
        """Per-endpoint Pending/Events/Successes/Failures/Errors, keyed by endpoint name."""
        return notification_counters(self.debug_vars())

    def endpoint_counters(self, name: str = ENDPOINT_NAME) -> EndpointCounters:
        counters = self.notification_counters()
        if name not in counters:
            raise RegistryError(f"no notification endpoint {name!r} at /debug/vars: {sorted(counters)}")
        return counters[name]

    def wait_until_delivered(
        self, name: str = ENDPOINT_NAME, timeout: float = 30.0, quiet: float = 0.5
    ) -> EndpointCounters:
        """Counters once nothing is pending and they have not moved for ``quiet`` seconds.

        Raises :class:`RegistryError` (with the last counters) when that does not happen in time.
        """
        deadline = time.monotonic() + timeout
        last = self.endpoint_counters(name)
        stable_since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.endpoint_counters(name)
            if now != last:
                last, stable_since = now, time.monotonic()
            elif now.pending == 0 and time.monotonic() - stable_since >= quiet:
                return now
        raise RegistryError(f"notifications still pending after {timeout}s: {last}")

    def stop(self, grace: float = 5.0) -> None:
        if self._process is not None:
            stop_group(self._process, grace)
        self._process = None

    def restart(self) -> None:
        """A new registry process on the same storage (and ports, unless one was taken):
        a new ``source.instanceID``, and whatever its queue held is gone."""
        self.stop()
        self.start()

    def __enter__(self) -> LocalRegistry:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
