"""``registry-consumer reconcile [--once]`` (and ``registry-consumer run reconcile``).

``--once`` runs one pass and ends with one JSON line on stdout (progress and logs go to
stderr)::

    {"repositories": 12, "tags": 40, "manifests_fetched": 3, "repairs": {...per kind...},
     "seconds": 4.2, "status": "ok", "errors": {}, "requests": 61, "pass": "…"}

Exit status: 0 when the pass ran to its end (a repository skipped for a 403 does not fail
it), 1 when it could not (the registry unreachable, the credentials refused, the catalog
unreadable, the store down; one line on stderr says which), 2 on a configuration error.
Without ``--once`` it runs until SIGTERM (:mod:`consumers.reconcile.process`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys

import click
import orjson

from common.environ import Environ
from common.kafka import KafkaClients
from common.logs import configure_logging
from consumers.errors import Interrupted
from consumers.process import install_signals, tune_gc
from consumers.reconcile.passes import ReconcilePass
from consumers.reconcile.process import producer_factory, run_reconcile
from consumers.reconcile.progress import Progress
from consumers.reconcile.publisher import ObservationPublisher
from consumers.reconcile.settings import ReconcileSettings, load
from consumers.reconcile.summary import PassSummary
from consumers.registry_api import CredentialsRefused, RegistryClient, RegistryUnreachable
from consumers.relay.process import quiet_http_logs
from consumers.runner import StopRequest
from consumers.store import migrate
from consumers.store.engine import create_engine

PROGRAM = "registry-consumer"


async def one_pass(
    settings: ReconcileSettings, progress: Progress | None = None, *, signals: bool = True
) -> PassSummary:
    """One pass with resources of its own, opened and closed here."""
    stop = StopRequest()
    if signals:
        install_signals(stop, "pass")
    engine = create_engine(settings.database_url, writer=True)
    publisher = ObservationPublisher(
        producer_factory(KafkaClients(settings.kafka)), settings.router, stop.pause
    )
    try:
        if settings.migrate_on_start:
            await migrate.upgrade(engine)
        async with RegistryClient(settings.registry) as client:
            reconcile = ReconcilePass(
                client,
                engine,
                publisher,
                trigger="once",
                settle=settings.settle_s,
                progress=progress or Progress(),
            )
            return await reconcile.run()
    finally:
        await publisher.close()
        await engine.dispose()


def failure_message(summary: PassSummary, registry: str) -> str:
    failure = summary.failure
    if isinstance(failure, CredentialsRefused):
        return f"{PROGRAM}: the registry at {registry} refuses the credentials: {failure}"
    if isinstance(failure, RegistryUnreachable):
        return f"{PROGRAM}: the registry at {registry} is unreachable: {failure}"
    return f"{PROGRAM}: the reconcile pass failed: {summary.error}"


def run_once(settings: ReconcileSettings) -> int:
    try:
        summary = asyncio.run(one_pass(settings))
    except Interrupted:
        click.echo(f"{PROGRAM}: stopped during the pass", err=True)
        return 1
    except OSError as exc:  # the store could not be opened
        click.echo(f"{PROGRAM}: the store is unreachable: {exc}", err=True)
        return 1
    click.echo(orjson.dumps(summary.line()).decode())
    if summary.status == "ok":
        return 0
    click.echo(failure_message(summary, settings.registry.url), err=True)
    return 1


def run_forever(settings: ReconcileSettings) -> None:
    configure_logging(settings.log)
    quiet_http_logs()
    tune_gc()
    try:
        asyncio.run(run_reconcile(settings))
    except Exception:  # logged by the process, with its traceback
        raise SystemExit(1) from None


@click.command()
@click.option("--once", is_flag=True, help="One pass, then a JSON summary on stdout.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, help="Metrics port (0: none).")
def reconcile(once: bool, metrics_port: int | None) -> None:
    """Make the store tell the registry's truth: compare its API with the store and repair
    the difference through <prefix>.reconcile (docs/reconcile.md)."""
    settings = load(Environ())
    if metrics_port is not None:
        settings = dataclasses.replace(settings, metrics_port=metrics_port)
    if once:
        configure_logging(settings.log, stream=sys.stderr)
        quiet_http_logs()
        raise SystemExit(run_once(settings))
    run_forever(settings)
