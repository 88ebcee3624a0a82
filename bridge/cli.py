"""``registry-bridge``: ``serve`` runs the bridge, ``dev`` runs the local stack behind
``make run``. Settings come from ``REGBRIDGE_*`` variables (``docs/configuration.md``);
a bad one exits with status 2 and a one-line message naming it (:mod:`common.cli`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bridge.settings import BridgeSettings
from common.cli import Program
from common.environ import Environ
from common.logs import configure_logging

F = TypeVar("F", bound=Callable[..., Any])


@click.group(cls=Program, name="registry-bridge")
def main() -> None:
    """Registry notifications to Kafka."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (default REGBRIDGE_BRIDGE_HOST or 0.0.0.0).")
@click.option(
    "--port",
    default=None,
    type=click.IntRange(0, 65535),
    help="Port (default REGBRIDGE_BRIDGE_PORT or 8080).",
)
def serve(host: str | None, port: int | None) -> None:
    """Receive registry notifications on POST /events and publish them to Kafka."""
    settings = BridgeSettings.from_environ(Environ())
    configure_logging(settings.log, buffered=True)
    from bridge.server import run  # the HTTP stack loads only for this command

    run(settings, host or settings.host, settings.port if port is None else port)


def _port_option(name: str, default: int, what: str) -> Callable[[F], F]:
    return click.option(
        name,
        default=default,
        show_default=True,
        type=click.IntRange(0, 65535),
        help=f"{what} (0: a free one).",
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the bridge listens on.")
@_port_option("--port", 5080, "The bridge's port")
@_port_option("--kafka-port", 9092, "The embedded broker's port")
@_port_option("--registry-port", 5000, "The local registry's port")
@_port_option("--registry-debug-port", 5001, "The local registry's debug port (/debug/vars)")
@_port_option("--dashboard-port", 8090, "The dashboard's port")
@_port_option("--metrics-port", 9465, "The push consumer's metrics port; pull and other take the next two")
def dev(host: str, **ports: int) -> None:
    """The local demo (what ``make run`` starts): embedded broker, bridge, consumers,
    dashboard and, when docker-registry is installed, a registry; Ctrl-C stops all.
    A port already taken is swapped for a free one."""
    from devstack.ports import DevPorts
    from devstack.stack import run_dev

    names = {"port": "bridge", "kafka_port": "kafka", "metrics_port": "metrics"}
    given = {names.get(k, k.removesuffix("_port")): v for k, v in ports.items()}
    sys.exit(run_dev(Environ(), host, DevPorts(**given)))


@main.command("demo-image")
@click.argument("layout", type=click.Path(file_okay=False, path_type=Path))
def demo_image(layout: Path) -> None:
    """Write a tiny OCI image layout to LAYOUT and print its skopeo source."""
    from devstack.ociimage import write_demo_layout

    click.echo(write_demo_layout(layout))


@main.command("spool-inspect")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def spool_inspect(paths: tuple[str, ...]) -> None:
    """Print the records and damaged spans of spool files as JSON lines (a spool
    directory, a segment, or a quarantined file)."""
    from bridge.spool import inspect_paths as inspect

    sys.exit(inspect(list(paths)))
