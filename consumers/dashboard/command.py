"""``registry-consumer dashboard [--host H] [--port P]``: the query API and the page.

Registered on the consumers' CLI group in ``consumers/cli.py``. The HTTP stack (the
settings too: access control needs Starlette's types) is imported only when the command
runs: the consumer processes never load it.
"""

from __future__ import annotations

import asyncio

import click

from common.environ import Environ
from common.logs import configure_logging


@click.command()
@click.option(
    "--host", default=None, help="Address to listen on (default REGBRIDGE_DASHBOARD_HOST or 127.0.0.1)."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port (default REGBRIDGE_DASHBOARD_PORT or 8090).",
)
def dashboard(host: str | None, port: int | None) -> None:
    """Serve the dashboard and its JSON API over the consumers' store."""
    from consumers.dashboard.server import serve  # the HTTP stack, for this command only
    from consumers.dashboard.settings import DashboardSettings

    settings = DashboardSettings.from_environ(Environ(), host=host, port=port)
    configure_logging(settings.log)
    click.echo(f"dashboard: {settings.url}")
    asyncio.run(serve(settings))
