"""Storage of real manifests: two images that share a base layer pushed to the real registry
(2.8.2), one of them into two repositories, reconciled into the store by a real pass and the
push and other consumers (SQLite and PostgreSQL). Repository bytes, the total with the shared
layer counted once, and what deletions free equal sums of the sizes the registry's own
manifests give. The pass writes the day's snapshot, and a snapshot that cannot be written
leaves the pass ``ok``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from consumers.lifecycle import BlobGraph, repository_storage, storage_overview, write_snapshot
from consumers.registry_api import ACCEPT
from consumers.store.engine import create_engine
from tests.consumers.conftest import MakeSettings
from tests.consumers.lifecycle.images import image_with, layer
from tests.consumers.reconcile.conftest import PUSHER, READER
from tests.support.database import read_table
from tests.support.pusher import ApiPusher, push_sync
from tests.support.reconciling import observing_consumers, pass_settings, reconcile_once, wait_inventory
from tests.support.registry import LocalRegistry

pytestmark = pytest.mark.kafka

BASE = layer("a base layer both images share")
P = image_with("p", BASE, layer("p's layer"))
Q = image_with("q", BASE, layer("q's layer"), layer("q's other layer"))
PUSHED = {("team/p", "1.0"): P, ("team/q", "1.0"): Q, ("team/q", "p"): P}  # P in two repositories


async def _fill(url: str) -> None:
    pusher = ApiPusher(url, PUSHER)
    async with pusher.client() as client:
        for (repository, tag), image in PUSHED.items():
            await pusher.image(client, repository, tag, image)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    workdir: Path = tmp_path_factory.mktemp("storage-registry")
    with LocalRegistry(workdir, users=dict([PUSHER, READER])) as running:
        push_sync(_fill(running.url))
        yield running


def registry_sizes(url: str) -> dict[str, dict[str, int]]:
    """manifest digest → {digest: size} of the manifest itself, its config and its layers,
    as the registry's own manifests state them."""
    found: dict[str, dict[str, int]] = {}
    with httpx.Client(base_url=url, auth=READER, timeout=30.0) as client:
        for repository, tag in PUSHED:
            answer = client.get(f"/v2/{repository}/manifests/{tag}", headers={"Accept": ACCEPT})
            body = json.loads(answer.content)
            blobs = {d["digest"]: d["size"] for d in [body["config"], *body["layers"]]}
            found[answer.headers["Docker-Content-Digest"]] = {
                answer.headers["Docker-Content-Digest"]: len(answer.content)
            } | blobs
    return found


def total(*parts: dict[str, int]) -> int:
    merged: dict[str, int] = {}
    for part in parts:
        merged |= part
    return sum(merged.values())


async def test_bytes_total_and_freed_equal_the_registrys_sizes(
    registry: LocalRegistry, make_settings: MakeSettings
) -> None:
    sizes = registry_sizes(registry.url)
    p, q = sizes[P.digest], sizes[Q.digest]
    assert set(p) & set(q) == {BASE.digest}, "the images share exactly the base layer"
    consumer = make_settings("push")
    url = consumer.database_url
    expected = {(repository, image.digest) for (repository, _), image in PUSHED.items()}
    async with observing_consumers(make_settings):
        summary = await reconcile_once(pass_settings(registry.url, READER, consumer))
        inventory = await wait_inventory(url, lambda inv: inv.manifests == expected)
    assert summary.status == "ok", summary.error
    assert inventory.manifests == expected
    # the pass wrote the day's snapshot (of the store as it was then: its observations may
    # still have been on their way to the consumers)
    assert [r["repository"] for r in await read_table(url, "storage_daily", "repository = ''")] == [""]

    engine = create_engine(url, writer=True)
    try:
        async with engine.begin() as conn:
            graph = await BlobGraph.load(conn)
            assert graph.repository_bytes("team/p") == total(p)
            assert graph.repository_bytes("team/q") == total(p, q)
            # the base layer and P (in two repositories) once: less than the sum of the parts
            assert graph.total_bytes() == total(p, q) < sum(p.values()) + sum(q.values())
            q_only = {digest: size for digest, size in q.items() if digest != BASE.digest}
            assert graph.freed([("team/q", Q.digest)]) == {("team/q", Q.digest): sum(q_only.values())}
            assert graph.freed([("team/p", P.digest)]) == {("team/p", P.digest): 0}, "team/q still holds P"
            both = graph.freed([("team/p", P.digest), ("team/q", P.digest)])
            assert both == {("team/p", P.digest): sum(p.values()) - p[BASE.digest], ("team/q", P.digest): 0}
            found = await repository_storage(conn, "team/q")
            assert (found.bytes, found.manifests, found.blobs, found.unknown_manifests) == (
                total(p, q),
                2,
                6,
                0,
            )
            await write_snapshot(conn, datetime.now(UTC))
            overview = await storage_overview(conn, limit=10)
    finally:
        await engine.dispose()
    assert overview.total.bytes == total(p, q)
    assert [(r.repository, r.bytes) for r in overview.repositories] == [
        ("team/q", total(p, q)),
        ("team/p", total(p)),
    ]


async def test_a_snapshot_that_cannot_be_written_leaves_the_pass_ok(
    registry: LocalRegistry, make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    consumer = make_settings("push")
    engine = create_engine(consumer.database_url, writer=True)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE storage_daily"))
    finally:
        await engine.dispose()
    with caplog.at_level(logging.WARNING, logger="consumers.reconcile"):
        summary = await reconcile_once(pass_settings(registry.url, READER, consumer))
    assert summary.status == "ok", summary.error
    failures = [r for r in caplog.records if r.getMessage() == "the storage snapshot could not be written"]
    assert len(failures) == 1
    assert [r["status"] for r in await read_table(consumer.database_url, "reconcile_passes")] == ["ok"]
