"""A real dashboard server (uvicorn, with the dashboard's protocol, limits and TLS) on a
free loopback port, inside the test's loop."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from starlette.routing import BaseRoute

from consumers.dashboard.app import create_app
from consumers.dashboard.server import uvicorn_server
from consumers.dashboard.settings import DashboardSettings
from consumers.store.engine import create_engine


def _bound_socket(host: str) -> socket.socket:
    # proto IPPROTO_TCP, as uvicorn's own bind has it: asyncio sets TCP_NODELAY on the
    # accepted connections only then (with proto 0, every response on a kept-alive
    # connection waited ~40 ms for the client's delayed ACK)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


@asynccontextmanager
async def running_dashboard(
    settings: DashboardSettings, now: datetime, api_routes: Sequence[BaseRoute] | None = None
) -> AsyncIterator[str]:
    """Serve the dashboard of ``settings`` (its port is replaced by a free one) with its
    clock pinned at ``now``; yields the base URL. The socket is bound before the server
    starts (no port race)."""
    sock = _bound_socket(settings.host)
    settings = dataclasses.replace(settings, port=sock.getsockname()[1])
    app = create_app(
        settings, lambda: create_engine(settings.database_url), clock=lambda: now, api_routes=api_routes
    )
    server = uvicorn_server(settings, app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(200):  # bounded: 20 s
            if server.started or task.done():
                break
            await asyncio.sleep(0.1)
        assert server.started, "the dashboard server did not start"
        yield settings.url
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        sock.close()


@asynccontextmanager
async def dashboard_server(
    database_url: str, now: datetime, refresh_seconds: int = 0, live_seconds: int = 2
) -> AsyncIterator[str]:
    """The anonymous loopback dashboard (no tokens) over ``database_url``."""
    settings = DashboardSettings(
        database_url=database_url, refresh_seconds=refresh_seconds, live_seconds=live_seconds
    )
    async with running_dashboard(settings, now) as url:
        yield url
