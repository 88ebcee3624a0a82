"""Serving the dashboard: migrate the store (unless told not to), then run uvicorn.

uvicorn owns the socket. SIGTERM or SIGINT stops accepting, lets requests in flight
finish, then runs the app's lifespan shutdown, which disposes of the engine; the process
then exits 0. A second signal forces the exit.
"""

from __future__ import annotations

import logging
from types import FrameType

import uvicorn

from consumers.dashboard.app import create_app
from consumers.dashboard.settings import DashboardSettings
from consumers.store import migrate
from consumers.store.engine import create_engine, redacted

log = logging.getLogger("consumers.dashboard")


class DashboardServer(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Runs in the signal handler: only set flags. Unlike uvicorn's own, it does not
        # re-raise the signal after the graceful shutdown, so a clean stop exits 0.
        self.force_exit = self.should_exit
        self.should_exit = True


def uvicorn_server(settings: DashboardSettings) -> uvicorn.Server:
    app = create_app(settings, lambda: create_engine(settings.database_url))
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, access_log=False, lifespan="on"
    )
    return DashboardServer(config)


async def serve(settings: DashboardSettings) -> None:
    """Run until SIGTERM or SIGINT."""
    if settings.migrate_on_start:
        await migrate.upgrade_url(settings.database_url)
    fields = {"url": settings.url, "database": redacted(settings.database_url)}
    log.info("dashboard serving", extra={"fields": fields})
    await uvicorn_server(settings).serve()
    log.info("dashboard stopped")
