"""``registry-bridge``: ``serve`` runs the bridge, ``dev`` runs the local stack behind
``make run``. Settings come from ``REGBRIDGE_*`` variables (``docs/configuration.md``);
a bad one exits with status 2 and a one-line message naming it."""

from __future__ import annotations

import sys

import click

from bridge.environ import ConfigError, Environ
from bridge.logs import configure_logging
from bridge.settings import BridgeSettings


@click.group()
def main() -> None:
    """Registry notifications to Kafka."""


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
def serve(host: str, port: int) -> None:
    """Receive registry notifications on POST /events and publish them to Kafka."""
    try:
        settings = BridgeSettings.from_environ(Environ())
    except ConfigError as exc:
        click.echo(f"registry-bridge: {exc}", err=True)
        sys.exit(2)
    configure_logging(settings.log_level, settings.log_format, buffered=True)
    from bridge.server import run  # the HTTP stack loads only for this command

    run(settings, host, port)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the bridge listens on.")
@click.option("--port", default=5080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--kafka-port", default=9092, show_default=True, type=click.IntRange(0, 65535))
def dev(host: str, port: int, kafka_port: int) -> None:
    """Embedded broker plus the bridge (what ``make run`` starts); Ctrl-C stops all."""
    from bridge.devstack import run_dev

    sys.exit(run_dev(Environ(), host, port, kafka_port))


@main.command("spool-inspect")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def spool_inspect(paths: tuple[str, ...]) -> None:
    """Print the records and damaged spans of spool files as JSON lines (a spool
    directory, a segment, or a quarantined file)."""
    from bridge.spoolinspect import main as inspect

    sys.exit(inspect(list(paths)))
