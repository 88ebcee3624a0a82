"""Serving the dashboard: migrate the store (unless told not to), then run uvicorn.

uvicorn owns the socket. SIGTERM or SIGINT stops accepting, lets requests in flight
finish, then runs the app's lifespan shutdown, which disposes of the engine; the process
then exits 0. A second signal forces the exit.
"""

from __future__ import annotations

import logging
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from common.protocol import header_timeout_protocol
from consumers.dashboard.app import create_app
from consumers.dashboard.settings import DashboardSettings
from consumers.store.engine import create_engine, redacted
from consumers.store.startup import open_store

log = logging.getLogger("consumers.dashboard")


async def migrate_store(database_url: str, within: float = 0.0) -> None:
    """Bring the schema up to date; a store that cannot be used for ``within`` seconds
    raises ``StoreError`` (one line; the CLI exits 1)."""
    engine = create_engine(database_url)
    try:
        await open_store(engine, database_url, migrating=True, within=within)
    finally:
        await engine.dispose()


class DashboardServer(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Runs in the signal handler: only set flags. Unlike uvicorn's own, it does not
        # re-raise the signal after the graceful shutdown, so a clean stop exits 0.
        self.force_exit = self.should_exit
        self.should_exit = True


def uvicorn_server(settings: DashboardSettings, app: ASGIApp | None = None) -> uvicorn.Server:
    """The server of ``app`` (default: the dashboard over ``settings.database_url``), with
    the request-head limits and TLS of the settings."""
    if app is None:
        app = create_app(settings, lambda: create_engine(settings.database_url))
    limits = settings.limits
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,  # consumers.dashboard.requestlog writes one line per request
        lifespan="on",
        http=header_timeout_protocol(limits.header_timeout, limits.max_head_bytes),
        proxy_headers=False,  # the peer address is the TCP peer: what the trusted-proxy check needs
        server_header=False,
        **settings.tls.uvicorn_kwargs(),
    )
    return DashboardServer(config)


def access_mode(settings: DashboardSettings) -> str:
    access = settings.access
    if access.anonymous:
        return "anonymous"
    modes = (("tokens", access.signs_in_with_tokens), ("proxy", access.proxy.enabled))
    return "+".join(name for name, on in modes if on)


async def serve(settings: DashboardSettings) -> None:
    """Run until SIGTERM or SIGINT."""
    if settings.migrate_on_start:
        await migrate_store(settings.database_url, settings.store_start_timeout_s)
    fields = {"url": settings.url, "database": redacted(settings.database_url)}
    fields["access"] = access_mode(settings)
    log.info("dashboard serving", extra={"fields": fields})
    if settings.access.anonymous:
        log.warning(
            "anonymous access: no REGBRIDGE_DASHBOARD_TOKENS and no trusted proxy; anyone who can reach "
            f"{settings.url} sees everything the dashboard shows"
        )
    await uvicorn_server(settings).serve()
    log.info("dashboard stopped")
