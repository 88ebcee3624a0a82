"""``registry-consumer cleanup plan|apply``: the retention policy, planned then applied, the
way ``terraform plan`` and ``apply`` are (``docs/lifecycle.md``, "cleanup plan and apply").

    registry-consumer cleanup plan --policy FILE [--format table|json] [--out PLAN]
    registry-consumer cleanup apply PLAN [--yes]

``plan`` reads only the store (``REGBRIDGE_DATABASE_URL``) and changes nothing: the plan
on stdout, as a table or as JSON, and with ``--out`` also as the JSON file ``apply``
takes. ``apply`` also needs the registry (``REGBRIDGE_REGISTRY_URL`` and its credentials,
as the reconcile's) and deletes at most ``REGBRIDGE_CLEANUP_MAX_RPS`` requests a second.
On a terminal it asks first; elsewhere it refuses without ``--yes``. It ends with one
JSON line on stdout (logs, one line per planned deletion, go to stderr).

Exit status: 0 when the plan ran to its end (skipped entries included: they changed
since the plan, which is not an error); 1 when an entry failed, the apply stopped (405:
deletes disabled; the registry unreachable or refusing the credentials; Ctrl-C), it was
declined at the prompt, or the store could not be read; 2 on a configuration error (a
``REGBRIDGE_*`` variable, a malformed policy or plan file) and when ``--yes`` is missing
without a terminal.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
import orjson

from common.cli import CONFIG_ERROR_EXIT
from common.environ import Environ
from common.logs import LogSettings, configure_logging
from consumers.lifecycle.apply import ApplySummary, apply_plan
from consumers.lifecycle.plan import Plan
from consumers.lifecycle.planfile import human_bytes, plan_json, plan_table, read_plan, write_plan
from consumers.lifecycle.policy import Policy, load_policy
from consumers.lifecycle.preview import preview
from consumers.lifecycle.settings import registry_settings
from consumers.registry_api import RegistryClient, RegistrySettings
from consumers.relay.process import quiet_http_logs
from consumers.settings import DEFAULT_DATABASE_URL
from consumers.store.engine import create_engine
from consumers.store.startup import check_schema, explained

PROGRAM = "registry-consumer"


def store_url(env: Environ) -> str:
    """The store's URL; the log settings are read (and used, on stderr) here too."""
    configure_logging(LogSettings.from_environ(env), stream=sys.stderr)
    return env.text("DATABASE_URL", DEFAULT_DATABASE_URL)


async def make_plan_from_store(database_url: str, policy: Policy, now: datetime) -> Plan:
    engine = create_engine(database_url)
    try:
        await explained(database_url, lambda: check_schema(engine, migrating=False))
        async with engine.connect() as connection:
            return await explained(database_url, lambda: preview(connection, policy, now))
    finally:
        await engine.dispose()


async def apply_with(
    plan: Plan, registry: RegistrySettings, database_url: str, summary: ApplySummary
) -> None:
    engine = create_engine(database_url)
    try:
        await explained(database_url, lambda: check_schema(engine, migrating=False))
        async with RegistryClient(registry) as client:
            await apply_plan(plan, client, engine, summary=summary)
    finally:
        await engine.dispose()


@click.group()
def cleanup() -> None:
    """Delete what a retention policy no longer keeps: plan, read, then apply (docs/lifecycle.md)."""


@cleanup.command("plan")
@click.option(
    "--policy", "policy_path", required=True, type=click.Path(path_type=Path), help="The policy file."
)
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Write the plan here."
)
def plan_command(policy_path: Path, output: str, out: Path | None) -> None:
    """What the policy would delete, the bytes it frees and why the rest is kept (reads only the store)."""
    policy = load_policy(policy_path)
    database_url = store_url(Environ())
    made = asyncio.run(make_plan_from_store(database_url, policy, datetime.now(UTC)))
    if out is not None:
        write_plan(made, out)
        click.echo(f"plan written to {out}: apply it with `{PROGRAM} cleanup apply {out}`", err=True)
    click.echo(plan_table(made) if output == "table" else plan_json(made).decode(), nl=False)


def confirmed(plan: Plan, registry_url: str) -> bool:
    """Asked on a terminal; without one, :class:`SystemExit` 2 (``--yes`` is the answer)."""
    if not sys.stdin.isatty():
        click.echo(
            f"{PROGRAM}: cleanup apply deletes from the registry: confirm on a terminal or pass --yes "
            "(nothing deleted)",
            err=True,
        )
        raise SystemExit(CONFIG_ERROR_EXIT)
    question = (
        f"Delete {len(plan.delete)} manifests ({human_bytes(plan.bytes_freed)} once the registry's garbage "
        f"collection runs) from {registry_url}, as planned {plan.created_at.isoformat(timespec='seconds')}?"
    )
    return click.confirm(question, default=False, err=True)


@cleanup.command("apply")
@click.argument("plan_path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask (needed when not on a terminal).")
def apply_command(plan_path: Path, yes: bool) -> None:
    """Delete exactly the manifests PLAN lists, each re-checked first; a JSON summary on stdout."""
    made = read_plan(plan_path)
    env = Environ()
    registry = registry_settings(env)
    database_url = store_url(env)
    quiet_http_logs()
    if made.delete and not yes and not confirmed(made, registry.url):
        click.echo(f"{PROGRAM}: cleanup apply declined: nothing deleted", err=True)
        raise SystemExit(1)
    summary = ApplySummary(planned=len(made.delete))
    try:
        asyncio.run(apply_with(made, registry, database_url, summary))
    except KeyboardInterrupt:
        summary.stopped = "interrupted"
    click.echo(orjson.dumps(summary.line()).decode())
    if summary.stopped is not None:
        click.echo(
            f"{PROGRAM}: cleanup apply stopped after deleting {summary.deleted} of {summary.planned}: "
            f"{summary.stopped}",
            err=True,
        )
    raise SystemExit(0 if summary.status == "ok" else 1)
