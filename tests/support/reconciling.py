"""What the reconcile tests share: the registry's state read through its API the plain way
(``registry_state``), the store's inventory (``store_inventory``), settings for a pass, the
two observing consumers running in the test's loop, and running one pass in-process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx

from common.kafka import KafkaSettings
from consumers.process import ConsumerProcess
from consumers.reconcile.command import one_pass
from consumers.reconcile.progress import Progress
from consumers.reconcile.settings import ReconcileSettings
from consumers.reconcile.summary import PassSummary
from consumers.registry_api import ACCEPT, RegistrySettings
from consumers.settings import ConsumerSettings
from tests.support.consumers import running
from tests.support.database import read_table

Tags = dict[tuple[str, str], str]  # (repository, tag) → digest


def registry_state(url: str, auth: tuple[str, str] | None, verify: Any = True) -> Tags:
    """Every tag of every repository, with its digest, as the registry answers now."""
    found: Tags = {}
    with httpx.Client(base_url=url, auth=auth, timeout=30.0, verify=verify) as client:
        catalog = client.get("/v2/_catalog", params={"n": 1000}).json()["repositories"] or []
        for repository in catalog:
            for tag in client.get(f"/v2/{repository}/tags/list").json().get("tags") or []:
                head = client.head(f"/v2/{repository}/manifests/{tag}", headers={"Accept": ACCEPT})
                found[(repository, tag)] = head.headers["Docker-Content-Digest"]
    return found


@dataclass(frozen=True)
class Inventory:
    repositories: set[str]
    tags: Tags
    manifests: set[tuple[str, str]]
    rows: dict[str, list[dict[str, Any]]]


async def store_inventory(database_url: str) -> Inventory:
    rows = {t: await read_table(database_url, t) for t in ("repositories", "tags", "manifests", "audit_log")}
    return Inventory(
        repositories={r["name"] for r in rows["repositories"] if r["deleted_at"] is None},
        tags={(t["repository"], t["tag"]): t["digest"] for t in rows["tags"] if t["deleted_at"] is None},
        manifests={(m["repository"], m["digest"]) for m in rows["manifests"] if m["deleted_at"] is None},
        rows=rows,
    )


async def wait_inventory(
    database_url: str, done: Callable[[Inventory], bool], within: float = 60.0
) -> Inventory:
    """Poll the store until ``done``; returns the last inventory (the caller asserts)."""
    deadline = time.monotonic() + within
    inventory = await store_inventory(database_url)
    while not done(inventory) and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        inventory = await store_inventory(database_url)
    return inventory


def pass_settings(
    registry_url: str,
    auth: tuple[str, str] | None,
    consumer: ConsumerSettings,
    **overrides: Any,
) -> ReconcileSettings:
    """A pass against ``registry_url`` publishing where ``consumer`` reads, fast retries."""
    registry = RegistrySettings(
        url=registry_url,
        username=auth[0] if auth else "",
        password=auth[1] if auth else "",
        timeout=overrides.pop("timeout", 5.0),
        attempts=overrides.pop("attempts", 3),
        page_size=overrides.pop("page_size", 100),
        max_rps=overrides.pop("max_rps", 0.0),
        ca_file=overrides.pop("ca_file", None),
    )
    registry = replace(registry, backoff=replace(registry.backoff, initial=0.05, maximum=0.5))
    base = ReconcileSettings(
        registry=registry,
        kafka=KafkaSettings(consumer.kafka.bootstrap_servers),
        topic_prefix=consumer.topic_prefix,
        database_url=consumer.database_url,
        settle_s=overrides.pop("settle_s", 0.5),
        metrics_port=0,
        migrate_on_start=False,
    )
    return replace(base, **overrides)


async def reconcile_once(settings: ReconcileSettings) -> PassSummary:
    return await one_pass(settings, Progress(bar=False), signals=False)


@asynccontextmanager
async def observing_consumers(make: Callable[..., ConsumerSettings]) -> AsyncIterator[list[ConsumerProcess]]:
    """``push`` and ``other`` in this loop: the consumers that apply observations."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(running(make(handler))) for handler in ("push", "other")]


def audit_kinds(inventory: Inventory, pass_id: str | None = None) -> list[tuple[str, str, str | None]]:
    """(kind, repository, tag or digest) of the ``reconcile`` audit rows, sorted."""
    rows = inventory.rows["audit_log"]
    return sorted(
        (r["kind"], r["repository"], r["tag"] or r["digest"])
        for r in rows
        if r["action"] == "reconcile" and (pass_id is None or r["request_id"] == pass_id)
    )
