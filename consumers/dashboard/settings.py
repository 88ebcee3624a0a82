"""The dashboard's settings, read once from ``REGBRIDGE_DASHBOARD_*`` variables.

The store it reads is the consumers' store (``REGBRIDGE_DATABASE_URL``); the CLI
resolves that with the consumers' own settings and hands the dashboard an engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.environ import Environ

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090
DEFAULT_REFRESH_SECONDS = 30


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    refresh_seconds: int = DEFAULT_REFRESH_SECONDS

    @classmethod
    def from_environ(
        cls, env: Environ, *, host: str | None = None, port: int | None = None
    ) -> DashboardSettings:
        """Command-line ``host``/``port`` win over the environment."""
        return cls(
            host=host or env.text("DASHBOARD_HOST", DEFAULT_HOST),
            port=port if port is not None else env.integer("DASHBOARD_PORT", DEFAULT_PORT, minimum=0),
            refresh_seconds=env.integer("DASHBOARD_REFRESH_SECONDS", DEFAULT_REFRESH_SECONDS, minimum=0),
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"
