"""A store with a lifecycle at known times, for the dashboard's lifecycle tests: events at
controlled times go through the real handlers on a real store and the manifests' contents
are stored as the reconcile stores what it fetched (both with the lifecycle tests' own
helpers, ``tests.consumers.lifecycle.events``), then the daily storage snapshot is written
as the reconcile writes it after a pass. Every figure the
tests expect is worked out by hand from :data:`IMAGES` and the times below.

``team/app``: ``v1`` (image a) pushed 120 days before NOW by alice, pulled by tag 100 days
before; ``v2`` (image b) pushed 10 days before by bob, pulled by tag (GET) 2 days before,
by digest (GET) 5 days before, HEAD by tag 1 day before; image c pushed by digest only
(untagged, three layers) 20 days before, never pulled. ``team/lib``: ``latest`` (image d,
two layers) pushed 200 days before, never pulled. Each image has its own blobs, so the
largest is c, then d, then a and b (one layer each).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from consumers.lifecycle import write_snapshot
from consumers.store.engine import create_engine
from devstack.ociimage import BuiltImage, build_image
from tests.consumers.lifecycle.events import apply, pull, push, store_fetched
from tests.support.database import migrate_store

NOW = datetime(2026, 11, 29, 2, 10, tzinfo=UTC)
IMAGES: dict[str, BuiltImage] = {
    "a": build_image("a", "lifecycle"),
    "b": build_image("b", "lifecycle"),
    "c": build_image("c", "lifecycle", layers=3),
    "d": build_image("d", "lifecycle", layers=2),
}


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def at(days: float) -> datetime:
    """``days`` before NOW as the events helpers take it (naive UTC)."""
    return ago(days).replace(tzinfo=None)


def digest(name: str) -> str:
    return IMAGES[name].manifest.digest


def image_bytes(name: str) -> int:
    """Manifest, config and layers: what a manifest holds and what deleting it alone frees."""
    image = IMAGES[name]
    return len(image.manifest.data) + sum(len(blob.data) for blob in image.blobs)


EVENTS: list[dict[str, Any]] = [
    push(at(200), "team/lib", digest("d"), "latest", actor="carol"),
    push(at(120), "team/app", digest("a"), "v1", actor="alice"),
    pull(at(100), "team/app", digest("a"), "v1"),
    push(at(20), "team/app", digest("c"), actor="alice"),
    push(at(10), "team/app", digest("b"), "v2", actor="bob"),
    pull(at(5), "team/app", digest("b")),
    pull(at(2), "team/app", digest("b"), "v2"),
    pull(at(1), "team/app", digest("b"), "v2", method="HEAD"),
]


async def lifecycle_store(database_url: str) -> str:
    """Migrate, apply :data:`EVENTS`, store the contents, write today's snapshot."""
    await migrate_store(database_url)
    await apply(database_url, EVENTS)
    await store_fetched(database_url, [image.manifest for image in IMAGES.values()])
    engine = create_engine(database_url, writer=True)
    try:
        async with engine.begin() as conn:
            await write_snapshot(conn, NOW)
    finally:
        await engine.dispose()
    return database_url
