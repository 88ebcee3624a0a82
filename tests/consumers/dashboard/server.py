"""A real dashboard server (uvicorn) on a free loopback port, inside the test's loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import uvicorn

from consumers.dashboard.app import create_app
from consumers.dashboard.settings import DashboardSettings
from consumers.store.engine import create_engine


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def dashboard_server(database_url: str, now: datetime, refresh_seconds: int = 0) -> AsyncIterator[str]:
    """Serve the dashboard over ``database_url`` with its clock pinned at ``now``;
    yields the base URL. The socket is bound before the server starts (no port race)."""
    sock = _bound_socket()
    port = sock.getsockname()[1]
    settings = DashboardSettings(database_url=database_url, port=port, refresh_seconds=refresh_seconds)
    app = create_app(settings, lambda: create_engine(database_url), clock=lambda: now)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
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
