"""The reconcile end to end, as an operator runs it: a real ``docker-registry`` (htpasswd), the
bridge and the three consumers as processes, ``registry-consumer reconcile --once`` and
``registry-consumer run reconcile``, on SQLite and on PostgreSQL. One story per store:

1. **Backfill**: the registry holds images and has no notifications; ``--once`` (twice).
2. **Restart loss**: notifications on, ``run reconcile`` running. The bridge is stopped; a tag
   is pushed and a manifest deleted by digest; the registry restarts (those events are
   lost); the bridge starts again and another tag is pushed (delivered). Its event carries
   the new instance id, so a pass runs by itself and repairs exactly the lost changes.
3. **Automatic trigger**: the registry restarts again and one pull is made: a pass starts
   within a minute. The pull is counted; the reconcile's own HEADs and GETs are not.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from consumers.registry_api import ACCEPT
from devstack.ociimage import build_image
from devstack.registry import Notifications
from tests.support.database import create_database, drop_database, postgres_server, read_table
from tests.support.pipeline import (
    HANDLERS,
    TOKEN,
    bridge_process,
    pipeline_env,
    running_consumers,
    start_on_free_port,
    wait_until,
)
from tests.support.processes import ServiceProcess, clean_env, venv_command
from tests.support.pusher import ApiPusher, push_sync
from tests.support.reconciling import Inventory, Tags, audit_kinds, registry_state, store_inventory
from tests.support.registry import LocalRegistry

pytestmark = pytest.mark.kafka
PUSHER, READER = ("alice", "alice-pw"), ("bob", "bob-pw")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('store') / 'store.db'}"
        return
    with postgres_server() as admin:
        url = asyncio.run(create_database(admin))
        try:
            yield url
        finally:
            asyncio.run(drop_database(admin, url))


@dataclass
class Story:
    backfill: list[dict[str, Any]]  # the JSON lines of the two --once runs
    backfill_codes: list[int]
    backfilled: Inventory
    expected_backfill: Tags
    lost: dict[str, str]  # what the bridge never heard: the pushed tag's and the deleted digest
    repaired: Inventory
    expected_after_loss: Tags
    delivered_tag: dict[str, Any]
    pull_at: float
    passes: list[dict[str, Any]]
    pulls: list[dict[str, Any]]  # pull_clients rows
    metrics: str  # /metrics of run reconcile at the end
    health: int


def reconcile_env(
    common: dict[str, str], database_url: str, registry: LocalRegistry, **extra: str
) -> dict[str, str]:
    return {
        **common,
        "REGBRIDGE_DATABASE_URL": database_url,
        "REGBRIDGE_REGISTRY_URL": registry.url,
        "REGBRIDGE_REGISTRY_USERNAME": READER[0],
        "REGBRIDGE_REGISTRY_PASSWORD": READER[1],
        "REGBRIDGE_RECONCILE_SETTLE_SECONDS": "2",
        **extra,
    }


def once(env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    command = [venv_command("registry-consumer"), "reconcile", "--once"]
    done = subprocess.run(
        command, env=clean_env(**env), capture_output=True, text=True, timeout=120, check=False
    )
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, f"stdout holds exactly the JSON line: {done.stdout!r}\n{done.stderr[-2000:]}"
    return done.returncode, orjson.loads(lines[0])


def inventory_of(url: str) -> Inventory:
    return asyncio.run(store_inventory(url))


def wait_tags(url: str, expected: Tags, within: float = 60.0) -> Inventory:
    wait_until(lambda: inventory_of(url).tags == expected, "the store to match the registry", within=within)
    return inventory_of(url)


async def _push(url: str, *steps: tuple[str, str | None, Any]) -> None:
    pusher = ApiPusher(url, PUSHER)
    async with pusher.client() as client:
        for repository, tag, image in steps:
            await pusher.image(client, repository, tag, image)


def _backfill(
    registry: LocalRegistry, env: dict[str, str], url: str
) -> tuple[list[int], list[dict[str, Any]], Tags, Inventory]:
    images = {n: build_image(n, "e2e-" + uuid.uuid4().hex[:8]) for n in ("alpha", "beta", "gamma")}
    push_sync(
        _push(
            registry.url,
            ("old/alpha", "1.0", images["alpha"]),
            ("old/alpha", "latest", images["alpha"]),
            ("old/beta", "1.0", images["beta"]),
            ("old/gamma", "1.0", images["gamma"]),
        )
    )
    expected = registry_state(registry.url, READER)
    code, first = once(env)
    backfilled = wait_tags(url, expected)
    again, second = once(env)
    return [code, again], [first, second], expected, backfilled


def _story(workdir: Path, bootstrap: str, url: str) -> Story:
    prefix = f"t{uuid.uuid4().hex[:12]}.registry.events"
    logs, common = workdir / "logs", pipeline_env(bootstrap, prefix)
    with ExitStack() as stack:
        registry = LocalRegistry(workdir / "registry", users=dict([PUSHER, READER]))
        registry.start()
        stack.callback(registry.stop)
        stack.enter_context(running_consumers(dict.fromkeys(HANDLERS, common), url, logs))
        env = reconcile_env(common, url, registry)
        codes, lines, expected_backfill, backfilled = _backfill(registry, env, url)

        bridge, port = start_on_free_port(partial(bridge_process, common, logs))
        stack.callback(bridge.stop)
        registry.notifications = Notifications(
            f"http://127.0.0.1:{port}/events", TOKEN, timeout="1s", backoff="1s"
        )
        registry.restart()
        process, metrics_port = start_on_free_port(partial(_reconcile_process, env, logs))
        stack.callback(process.stop)
        delta1, delta2, echo = (build_image("delta", f"e2e-{n}-{uuid.uuid4().hex[:6]}") for n in (1, 2, 3))
        push_sync(_push(registry.url, ("new/delta", "1.0", delta1)))
        wait_until(
            lambda: ("new/delta", "1.0") in inventory_of(url).tags, "new/delta:1.0 delivered", within=60
        )

        # the loss: the bridge is away, a tag is pushed and a manifest deleted, the registry restarts
        bridge.stop()
        gamma = expected_backfill[("old/gamma", "1.0")]
        push_sync(_lost_changes(registry.url, delta2, echo, gamma))
        registry.restart()
        bridge.start(timeout=30)
        push_sync(_put_manifest(registry.url, "new/echo", "1.0", echo))  # delivered: the new instance
        expected_after = registry_state(registry.url, READER)
        repaired = wait_tags(url, expected_after)

        registry.restart()
        pull_at = time.time()
        pull = f"{registry.url}/v2/new/echo/manifests/1.0"
        httpx.get(pull, auth=READER, headers={"Accept": ACCEPT}, timeout=10).raise_for_status()
        wait_until(lambda: _passes_after(url, pull_at), "a pass after the restart and the pull", within=60)
        wait_until(lambda: _counted_pulls(url) >= 1, "the pull counted", within=30)
        passes = asyncio.run(read_table(url, "reconcile_passes"))
        pulls = asyncio.run(read_table(url, "pull_clients"))
        delivered = next(r for r in inventory_of(url).rows["tags"] if r["repository"] == "new/echo")
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        health = httpx.get(f"http://127.0.0.1:{metrics_port}/healthz", timeout=5).status_code
    return Story(
        lines, codes, backfilled, expected_backfill, {"tag": delta2.digest, "deleted": gamma}, repaired,
        expected_after, delivered, pull_at, passes, pulls, metrics, health,
    )  # fmt: skip


def _reconcile_process(env: dict[str, str], logs: Path, port: int) -> ServiceProcess:
    extra = {"REGBRIDGE_METRICS_PORT": str(port), "REGBRIDGE_RECONCILE_WATCH_SECONDS": "0.5"}
    return ServiceProcess(
        "reconcile",
        [venv_command("registry-consumer"), "run", "reconcile"],
        env={**env, **extra, "REGBRIDGE_RECONCILE_INTERVAL_SECONDS": "3600"},
        log_dir=logs,
        ready_url=f"http://127.0.0.1:{port}/healthz",
    )


async def _lost_changes(url: str, tagged: Any, echo: Any, deleted: str) -> None:
    pusher = ApiPusher(url, PUSHER)
    async with pusher.client() as client:
        await pusher.image(client, "new/delta", "2.0", tagged)
        await pusher.delete(client, "old/gamma", deleted)
        for blob in echo.blobs:  # echo's blobs now; its manifest after the restart
            await pusher.blob(client, "new/echo", blob)


async def _put_manifest(url: str, repository: str, tag: str, image: Any) -> None:
    pusher = ApiPusher(url, PUSHER)
    async with pusher.client() as client:
        await pusher.manifest(client, repository, tag, image.manifest)


def _passes_after(url: str, moment: float) -> bool:
    rows = asyncio.run(read_table(url, "reconcile_passes"))
    after = datetime.fromtimestamp(moment, UTC).replace(tzinfo=None)
    return any(r["trigger"] == "restart" and r["started_at"] >= after and r["status"] == "ok" for r in rows)


def _counted_pulls(url: str) -> int:
    return sum(r["manifest_gets"] for r in asyncio.run(read_table(url, "pulls")))


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap_module: str, database_url: str) -> Story:
    return _story(tmp_path_factory.mktemp("reconcile-e2e"), kafka_bootstrap_module, database_url)


@pytest.fixture(scope="module")
def kafka_bootstrap_module(broker: Any) -> str:
    return str(broker.bootstrap_servers)


def test_backfill_fills_the_inventory_with_the_registrys_catalog(story: Story) -> None:
    assert story.backfill_codes == [0, 0]
    first, second = story.backfill
    assert story.backfilled.tags == story.expected_backfill
    assert story.backfilled.repositories == {"old/alpha", "old/beta", "old/gamma"}
    assert (first["repositories"], first["tags"]) == (3, 4)
    assert first["repairs"]["tag_added"] == 4 and first["repairs"]["repository_added"] == 3
    assert first["repairs"]["manifest_added"] == 3
    assert second["repairs"] == dict.fromkeys(second["repairs"], 0)
    assert second["manifests_fetched"] == 0


def test_after_a_restart_the_lost_changes_are_repaired_and_nothing_else(story: Story) -> None:
    assert story.repaired.tags == story.expected_after_loss
    assert story.repaired.tags[("new/delta", "2.0")] == story.lost["tag"], "the lost tag is present"
    assert ("old/gamma", "1.0") not in story.repaired.tags, "the deleted manifest's tag is gone"
    assert ("old/gamma", story.lost["deleted"]) not in story.repaired.manifests
    assert story.delivered_tag["updated_by"] == PUSHER[0], "the delivered tag is as its event left it"
    backfill_passes = {line["pass"] for line in story.backfill}
    later = [k for k in audit_kinds(story.repaired) if k not in audit_kinds(story.backfilled)]
    assert not backfill_passes & {
        r["request_id"] for r in story.repaired.rows["audit_log"] if r["action"] != "reconcile"
    }
    assert sorted(later) == sorted(
        [
            ("manifest_added", "new/delta", story.lost["tag"]),
            ("tag_added", "new/delta", "2.0"),
            ("manifest_removed", "old/gamma", story.lost["deleted"]),
            ("tag_removed", "old/gamma", "1.0"),
        ]
    ), "reconcile rows for exactly the lost changes"


def test_a_restart_seen_in_one_pull_starts_a_pass_within_a_minute(story: Story) -> None:
    after = datetime.fromtimestamp(story.pull_at, UTC).replace(tzinfo=None)
    triggered = [r for r in story.passes if r["trigger"] == "restart" and r["started_at"] >= after]
    assert triggered, story.passes
    assert (triggered[0]["started_at"] - after).total_seconds() < 60
    # the pull counted; the reconcile's HEADs and GETs (pull events too) are not load
    agents = {r["useragent"] for r in story.pulls}
    assert not [a for a in agents if a.startswith("registry-kafka-bridge-reconcile/")], agents
    assert sum(r["manifest_gets"] for r in story.pulls if r["useragent"].startswith("python-httpx/")) == 1


def sample(metrics: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith(name))


def test_run_reconcile_reports_its_passes_repairs_and_restarts(story: Story) -> None:
    assert story.health == 200
    assert sample(story.metrics, 'regbridge_reconcile_passes_total{outcome="ok"}') >= 3
    assert sample(story.metrics, "regbridge_reconcile_restarts_detected_total") >= 2
    assert sample(story.metrics, 'regbridge_reconcile_repairs_total{kind="tag_removed"}') == 1
    assert (
        sample(story.metrics, 'regbridge_reconcile_registry_requests_total{method="HEAD",status="2xx"}') > 0
    )
    assert sample(story.metrics, "regbridge_reconcile_last_success_timestamp_seconds") > story.pull_at - 3600
