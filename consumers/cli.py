"""``registry-consumer``: run a handler, the relay or the reconcile, migrate the store, serve
the dashboard.

    registry-consumer run push|pull|other|relay|reconcile [--group G] [--metrics-port P]
    registry-consumer reconcile [--once]
    registry-consumer db upgrade
    registry-consumer db current
    registry-consumer dashboard [--host H] [--port P]
    registry-consumer cleanup plan --policy FILE [--format table|json] [--out PLAN]
    registry-consumer cleanup apply PLAN [--yes]

Settings come from ``REGBRIDGE_*`` variables (``docs/configuration.md``); a bad one exits
with status 2 and one line naming it (:mod:`common.cli`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import click

from common.cli import Program, StartupError
from common.environ import ConfigError, Environ
from common.logs import LogSettings, configure_logging
from consumers.dashboard.command import dashboard
from consumers.handlers import HANDLERS
from consumers.lifecycle.command import cleanup
from consumers.process import run_consumer, tune_gc
from consumers.reconcile import load as load_reconcile_settings
from consumers.reconcile import reconcile
from consumers.reconcile.command import run_forever
from consumers.relay.process import run_relay
from consumers.relay.settings import load_settings as load_relay_settings
from consumers.relay.subscriber import HANDLER as RELAY
from consumers.settings import DEFAULT_DATABASE_URL, load
from consumers.store import migrate
from consumers.store.engine import create_engine
from consumers.store.startup import check_schema, explained, open_store

RECONCILE = "reconcile"


@click.group(cls=Program, name="registry-consumer")
def main() -> None:
    """Consumers that turn the bridge's topics into an inventory, pull statistics and an audit trail."""


def _overrides(group_key: str, group: str | None, metrics_port: int | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if group:
        overrides[group_key] = group
    if metrics_port is not None:
        overrides["metrics_port"] = metrics_port
    return overrides


@main.command()
@click.argument("handler", type=click.Choice(sorted([*HANDLERS, RELAY, RECONCILE])))
@click.option("--group", default=None, help="Consumer group (default <prefix>.<handler>; relay: the prefix).")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, help="Metrics port (0: none).")
def run(handler: str, group: str | None, metrics_port: int | None) -> None:
    """Consume <prefix>.<HANDLER> until SIGTERM (relay: see docs/relay.md; reconcile: docs/reconcile.md)."""
    if handler == RECONCILE:
        if group:
            raise click.UsageError("the reconcile reads no topic: --group does not apply")
        reconciling = load_reconcile_settings(Environ())
        run_forever(dataclasses.replace(reconciling, **_overrides("", None, metrics_port)))
        return
    if handler == RELAY:
        relay = load_relay_settings(Environ())
        relay = dataclasses.replace(relay, **_overrides("group_prefix", group, metrics_port))
        configure_logging(relay.log)
        tune_gc()
        asyncio.run(run_relay(relay))
        return
    settings = load(handler, Environ())
    settings = dataclasses.replace(settings, **_overrides("group_id", group, metrics_port))
    configure_logging(settings.log)
    tune_gc()
    try:
        asyncio.run(run_consumer(settings))
    except (ConfigError, StartupError):
        raise
    except Exception:  # logged by the process, with its traceback, as one JSON line
        raise SystemExit(1) from None


@main.group()
def db() -> None:
    """The store's schema."""


def _database_url() -> str:
    """The store's URL; the log settings are checked (and used) here too."""
    env = Environ()
    configure_logging(LogSettings.from_environ(env))
    return env.text("DATABASE_URL", DEFAULT_DATABASE_URL)


async def _upgrade(url: str) -> str | None:
    engine = create_engine(url, writer=True)
    try:
        return await open_store(engine, url, migrating=True, within=0)  # one attempt: say it now
    finally:
        await engine.dispose()


async def _current(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return await explained(url, lambda: migrate.current_revision(engine))
    finally:
        await engine.dispose()


@db.command()
def upgrade() -> None:
    """Migrate the store to the latest schema."""
    revision = asyncio.run(_upgrade(_database_url()))
    click.echo(f"schema at revision {revision}")


@db.command()
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Take the store's schema back to REVISION, before rolling back to the version that
    wants it (docs/operations.md); the tables added since are dropped, with their rows."""
    url = _database_url()
    if revision not in migrate.known_revisions():
        known = ", ".join(sorted(migrate.known_revisions()))
        raise click.BadParameter(f"{revision!r} is not a revision of this version (known: {known})")
    asyncio.run(_downgrade(url, revision))
    click.echo(f"schema at revision {revision}")


async def _downgrade(url: str, revision: str) -> None:
    engine = create_engine(url, writer=True)
    try:
        await explained(url, lambda: check_schema(engine, migrating=True))  # a newer one: say so
        await explained(url, lambda: migrate.downgrade(engine, revision))
    finally:
        await engine.dispose()


@db.command()
def current() -> None:
    """Print the store's schema revision."""
    revision = asyncio.run(_current(_database_url()))
    click.echo(f"schema at revision {revision or '(none)'}; latest is {migrate.head_revision()}")


main.add_command(cleanup)
main.add_command(dashboard)
main.add_command(reconcile)
