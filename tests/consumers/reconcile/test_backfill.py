"""Backfill: a registry that holds images the pipeline never heard of (no notifications), an
empty store, the push and other consumers running, and one reconcile pass: the inventory
equals the catalog and every tag list, digests included, each manifest's content is stored
once, and the statistics stay empty. A second pass finds nothing to do, with one HEAD per
tag and no GET. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from consumers.handlers.observed import REPAIRS
from tests.consumers.conftest import MakeSettings
from tests.consumers.reconcile.conftest import READER, Filled
from tests.support.database import count_rows, read_table
from tests.support.reconciling import (
    audit_kinds,
    observing_consumers,
    pass_settings,
    reconcile_once,
    registry_state,
    wait_inventory,
)
from tests.support.registry_front import RegistryFront

pytestmark = pytest.mark.kafka


async def test_a_pass_backfills_the_inventory_then_finds_nothing_to_do(
    filled: Filled, make_settings: MakeSettings
) -> None:
    expected = registry_state(filled.url, READER)
    children = {(("team/multi", image.digest)) for image in filled.index.images}
    manifests = {(repository, digest) for (repository, _), digest in expected.items()} | children
    consumer = make_settings("push")
    url = consumer.database_url
    with RegistryFront(filled.url) as front:
        async with observing_consumers(make_settings):
            first = await reconcile_once(pass_settings(front.url, READER, consumer))
            inventory = await wait_inventory(
                url, lambda inv: inv.tags == expected and inv.manifests == manifests
            )
            fetches = front.requests("GET", "/manifests/")
            front.clear()
            second = await reconcile_once(pass_settings(front.url, READER, consumer))
            heads, gets = front.requests("HEAD", "/manifests/"), front.requests("GET", "/manifests/")

    assert first.status == "ok", first.error
    assert inventory.tags == expected
    assert inventory.manifests == manifests
    assert inventory.repositories == {repository for repository, _ in expected}
    line = first.line()
    assert line["repositories"] == len(inventory.repositories) and line["tags"] == len(expected)
    assert set(line["repairs"]) == set(REPAIRS)
    assert line["repairs"]["tag_added"] == len(expected)
    assert line["repairs"]["manifest_added"] == len(manifests)
    assert line["repairs"]["repository_added"] == len(inventory.repositories)
    # one audit row per repair, each naming the pass
    kinds = audit_kinds(inventory, first.id)
    assert len(kinds) == sum(line["repairs"].values())
    assert sorted(k for k, _, _ in kinds if k == "tag_added") == ["tag_added"] * len(expected)
    # every manifest's content, stored once (a new tag is one GET: its digest and content at once;
    # two new tags on one digest are two GETs), the index's children with their platforms
    contents = {row["digest"]: row for row in await read_table(url, "manifest_contents")}
    assert set(contents) == {digest for _, digest in manifests}
    assert line["manifests_fetched"] == len(fetches) == len(expected) + len(children)
    assert contents[filled.index.digest]["kind"] == "index"
    platforms = {
        (r["digest"], r["platform_architecture"]) for r in await read_table(url, "manifest_children")
    }
    assert platforms == {(filled.index.images[0].digest, "amd64"), (filled.index.images[1].digest, "arm64")}
    image = filled.images["a"]
    blobs = await read_table(url, "manifest_blobs", f"manifest_digest = '{image.digest}'")
    assert sorted((b["position"], b["role"], b["digest"], b["size"]) for b in blobs) == [
        (0, "config", image.config.digest, len(image.config.data)),
        *((n, "layer", layer.digest, len(layer.data)) for n, layer in enumerate(image.layers, start=1)),
    ]
    assert contents[image.digest]["blobs_size"] == len(image.config.data) + sum(
        len(x.data) for x in image.layers
    )
    # reconciliation is not load: no push or pull was counted, no push time invented
    for table in ("pushes", "pulls", "pull_clients", "pulls_daily"):
        assert await count_rows(url, table) == 0, table
    assert {m["push_count"] for m in inventory.rows["manifests"]} == {0}
    assert {r["last_pushed_at"] for r in inventory.rows["repositories"]} == {None}

    assert second.status == "ok" and sum(second.repairs.values()) == 0
    assert second.manifests_fetched == 0
    assert len(heads) == len(expected), "one HEAD per tag"
    assert gets == [], "no GET of content already known"
