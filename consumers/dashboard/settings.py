"""The dashboard's settings: one frozen dataclass, read once from ``REGBRIDGE_*``
variables by :meth:`DashboardSettings.from_environ` (the CLI calls it) and passed down.

It reads the consumers' store, so the database comes from ``REGBRIDGE_DATABASE_URL``
exactly as for the consumers. Access control (``access``), HTTPS (``tls``,
``REGBRIDGE_DASHBOARD_TLS_*``) and the request limits (``limits``) have their own
dataclasses; :meth:`DashboardSettings.check` refuses an anonymous dashboard on an address
other than loopback. ``registry`` is where the cleanup's apply deletes
(``REGBRIDGE_REGISTRY_*``, as the reconcile and ``cleanup apply`` read them): None without
``REGBRIDGE_REGISTRY_URL``, and then only the apply is refused (503).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.environ import Environ
from common.logs import LogSettings
from common.tls import DASHBOARD_TLS, ServerTLS
from consumers.dashboard.access import AccessSettings
from consumers.dashboard.limits import RequestLimits
from consumers.lifecycle.settings import registry_settings
from consumers.registry_api import RegistrySettings
from consumers.settings import DEFAULT_DATABASE_URL
from consumers.store.retention import RetentionSettings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090
DEFAULT_REFRESH_SECONDS = 30
DEFAULT_LIVE_SECONDS = 2


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    refresh_seconds: int = DEFAULT_REFRESH_SECONDS
    live_seconds: int = DEFAULT_LIVE_SECONDS  # the live page's change check; 0: no live mode
    migrate_on_start: bool = True
    store_start_timeout_s: float = 60.0
    log: LogSettings = field(default_factory=LogSettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    tls: ServerTLS = field(default_factory=lambda: ServerTLS(variables=DASHBOARD_TLS))
    limits: RequestLimits = field(default_factory=RequestLimits)
    registry: RegistrySettings | None = None
    retention: RetentionSettings = field(default_factory=RetentionSettings)  # which rollup answers

    @classmethod
    def from_environ(
        cls, env: Environ, *, host: str | None = None, port: int | None = None
    ) -> DashboardSettings:
        """Command-line ``host``/``port`` win over the environment."""
        port = port if port is not None else env.port("DASHBOARD_PORT", DEFAULT_PORT)
        tls = ServerTLS.from_environ(env, DASHBOARD_TLS)
        settings = cls(
            database_url=env.text("DATABASE_URL", DEFAULT_DATABASE_URL),
            host=host or env.text("DASHBOARD_HOST", DEFAULT_HOST),
            port=port,
            refresh_seconds=env.integer("DASHBOARD_REFRESH_SECONDS", DEFAULT_REFRESH_SECONDS, minimum=0),
            live_seconds=env.integer("DASHBOARD_LIVE_SECONDS", DEFAULT_LIVE_SECONDS, minimum=0),
            migrate_on_start=env.flag("DASHBOARD_MIGRATE_ON_START", True),
            store_start_timeout_s=env.number("STORE_START_TIMEOUT_SECONDS", 60.0, minimum=0.0),
            log=LogSettings.from_environ(env),
            access=AccessSettings.from_environ(env, tls=tls.enabled),
            tls=tls,
            limits=RequestLimits.from_environ(env),
            registry=registry_settings(env) if env.text("REGISTRY_URL") else None,
            retention=RetentionSettings.from_environ(env),
        )
        settings.check()
        return settings

    def check(self) -> None:
        self.access.check_address(self.host)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls.enabled else 'http'}://{host}:{self.port}/"
