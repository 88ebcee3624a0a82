"""Where the registry's API is and how to reach it: :class:`RegistrySettings`, read once from
``REGBRIDGE_REGISTRY_*`` variables (``docs/configuration.md``, "Reconcile").

=============================  ========================================================
``REGISTRY_URL``               ``http(s)://host[:port]``: the registry, without a path
``REGISTRY_USERNAME``          user for basic auth and for the token server
``REGISTRY_PASSWORD``          its password (or ``REGISTRY_PASSWORD_FILE``)
``REGISTRY_CA_FILE``           PEM bundle that signed the registry's (and token server's)
                               certificate; else the system's CAs
``REGISTRY_TIMEOUT_SECONDS``   per request (connect, read, write), default 10
``REGISTRY_ATTEMPTS``          attempts per request on timeouts, 429 and 5xx, default 4
=============================  ========================================================

The concurrency and request-rate limits belong to whoever uses the client (the reconcile
reads ``REGBRIDGE_RECONCILE_CONCURRENCY`` and ``REGBRIDGE_RECONCILE_MAX_RPS``).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from common.environ import PREFIX, ConfigError, Environ
from common.retry import Backoff

USER_AGENT_DEFAULT = "registry-kafka-bridge/1"


def parse_registry_url(text: str, variable: str = PREFIX + "REGISTRY_URL") -> str:
    """``scheme://host[:port]`` normalised, or :class:`ConfigError` naming ``variable``."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{variable}={text!r} must be http://host[:port] or https://host[:port]")
    if parts.username or parts.password:
        raise ConfigError(
            f"{variable} must not hold credentials: use {PREFIX}REGISTRY_USERNAME and _PASSWORD"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"{variable}={text!r} must have no path: the API is at /v2/ of the host")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"{variable}={text!r} has no valid port") from None
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    url: str
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: Path | None = None
    timeout: float = 10.0
    attempts: int = 4
    concurrency: int = 4
    max_rps: float = 50.0  # 0: no limit
    page_size: int = 100
    user_agent: str = USER_AGENT_DEFAULT
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=0.5, maximum=30.0, jitter=0.2))

    @classmethod
    def from_environ(
        cls,
        env: Environ,
        *,
        concurrency: int = 4,
        max_rps: float = 50.0,
        page_size: int = 100,
        user_agent: str,
    ) -> RegistrySettings:
        settings = cls(
            url=parse_registry_url(env.required("REGISTRY_URL")),
            username=env.text("REGISTRY_USERNAME"),
            password=env.secret("REGISTRY_PASSWORD"),
            ca_file=env.path("REGISTRY_CA_FILE"),
            timeout=env.number("REGISTRY_TIMEOUT_SECONDS", 10.0, minimum=0.1),
            attempts=env.integer("REGISTRY_ATTEMPTS", 4, minimum=1),
            concurrency=concurrency,
            max_rps=max_rps,
            page_size=page_size,
            user_agent=user_agent,
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Rules across variables; raises :class:`ConfigError` naming the variable."""
        if bool(self.username) != bool(self.password):
            raise ConfigError(
                f"{PREFIX}REGISTRY_USERNAME and {PREFIX}REGISTRY_PASSWORD (or _FILE) go together: "
                "set both or neither"
            )
        if self.ca_file is not None:
            self.ssl_context()

    @property
    def host(self) -> str:
        """``host:port`` of the registry, as observations name their source."""
        return urlsplit(self.url).netloc

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the registry (host name included) against the CA file or the system's."""
        try:
            return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"{PREFIX}REGISTRY_CA_FILE={str(self.ca_file)!r} cannot be loaded: {exc}"
            ) from None
