"""``registry-consumer``: run a handler, or migrate the store.

    registry-consumer run push|pull|other [--group G] [--metrics-port P]
    registry-consumer db upgrade
    registry-consumer db current
    registry-consumer dashboard [--host H] [--port P]

Settings come from ``REGBRIDGE_*`` variables (``docs/configuration.md``); a bad one exits
with status 2 and a message naming it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from common.environ import ConfigError, Environ
from common.logs import configure_logging
from consumers.dashboard.command import dashboard
from consumers.handlers import HANDLERS
from consumers.process import run_consumer, tune_gc
from consumers.relay.handler import HANDLER as RELAY
from consumers.relay.process import run_relay
from consumers.relay.settings import load_settings as load_relay_settings
from consumers.settings import DEFAULT_DATABASE_URL, load
from consumers.store import migrate
from consumers.store.engine import create_engine

T = TypeVar("T")


def _config_errors_exit_2(build: Callable[[], T]) -> T:
    try:
        return build()
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


@click.group()
def main() -> None:
    """Consumers that turn the bridge's topics into an inventory, pull statistics and an audit trail."""


@main.command()
@click.argument("handler", type=click.Choice(sorted([*HANDLERS, RELAY])))
@click.option("--group", default=None, help="Consumer group (default <prefix>.<handler>).")
@click.option("--metrics-port", type=int, default=None, help="Metrics port (0: none).")
def run(handler: str, group: str | None, metrics_port: int | None) -> None:
    """Consume <prefix>.<HANDLER> until SIGTERM (relay: see docs/relay.md)."""
    if handler == RELAY:
        _run_relay(group, metrics_port)
        return
    settings = _config_errors_exit_2(lambda: load(handler, Environ()))
    overrides: dict[str, Any] = {}
    if group:
        overrides["group_id"] = group
    if metrics_port is not None:
        overrides["metrics_port"] = metrics_port
    settings = dataclasses.replace(settings, **overrides)
    configure_logging(settings.log_level, settings.log_format)
    tune_gc()
    _config_errors_exit_2(lambda: asyncio.run(run_consumer(settings)))


def _run_relay(group_prefix: str | None, metrics_port: int | None) -> None:
    """``run relay``: every subscription of ``REGBRIDGE_RELAY_CONFIG``; ``--group`` is the
    group prefix (default ``<prefix>.relay``, each subscription adds ``.<name>``)."""
    settings = _config_errors_exit_2(lambda: load_relay_settings(Environ()))
    overrides: dict[str, Any] = {}
    if group_prefix:
        overrides["group_prefix"] = group_prefix
    if metrics_port is not None:
        overrides["metrics_port"] = metrics_port
    settings = dataclasses.replace(settings, **overrides)
    configure_logging(settings.log_level, settings.log_format)
    tune_gc()
    asyncio.run(run_relay(settings))


@main.group()
def db() -> None:
    """The store's schema."""


def _database_url() -> str:
    return Environ().text("DATABASE_URL", DEFAULT_DATABASE_URL)


async def _upgrade(url: str) -> str | None:
    engine = create_engine(url, writer=True)
    try:
        await migrate.upgrade(engine)
        return await migrate.current_revision(engine)
    finally:
        await engine.dispose()


async def _current(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return await migrate.current_revision(engine)
    finally:
        await engine.dispose()


@db.command()
def upgrade() -> None:
    """Migrate the store to the latest schema."""
    revision = _config_errors_exit_2(lambda: asyncio.run(_upgrade(_database_url())))
    click.echo(f"schema at revision {revision}")


@db.command()
def current() -> None:
    """Print the store's schema revision."""
    revision = _config_errors_exit_2(lambda: asyncio.run(_current(_database_url())))
    click.echo(f"schema at revision {revision or '(none)'}; latest is {migrate.head_revision()}")


main.add_command(dashboard)
