"""A store with a lifecycle at known times, for the dashboard's lifecycle tests: events at
controlled times go through the real handlers (push, pull, other) on a real store, the
manifests' contents are stored as the reconcile stores what it fetched, and the daily
storage snapshot is written as the reconcile writes it after a pass. Every figure the
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

from common.contract import Event
from consumers.handlers import HANDLERS
from consumers.handlers.base import Delivery, HandlerOptions, utc_naive
from consumers.lifecycle import storage
from consumers.reconcile.store_view import store_contents
from consumers.registry_api.manifests import Manifest, ManifestRef, parse_manifest
from consumers.store.engine import create_engine
from devstack.ociimage import BuiltImage, build_image
from tests.support.database import migrate_store
from tests.support.events import OCI_MANIFEST, event

NOW = datetime(2026, 11, 29, 2, 10, tzinfo=UTC)
IMAGES: dict[str, BuiltImage] = {
    "a": build_image("a", "lifecycle"),
    "b": build_image("b", "lifecycle"),
    "c": build_image("c", "lifecycle", layers=3),
    "d": build_image("d", "lifecycle", layers=2),
}
HANDLER_OF = {"push": "push", "pull": "pull", "delete": "other", "mount": "other"}


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def digest(name: str) -> str:
    return IMAGES[name].manifest.digest


def image_bytes(name: str) -> int:
    """Manifest, config and layers: what a manifest holds and what deleting it alone frees."""
    image = IMAGES[name]
    return len(image.manifest.data) + sum(len(blob.data) for blob in image.blobs)


def push_event(repository: str, name: str, tag: str | None, at: datetime, actor: str) -> dict[str, Any]:
    manifest = IMAGES[name].manifest
    size = len(manifest.data)
    return event(
        "push", repository, digest=manifest.digest, tag=tag, media_type=OCI_MANIFEST, size=size,
        method="PUT", actor=actor, timestamp=at,
    )  # fmt: skip


def pull_event(
    repository: str, name: str, tag: str | None, at: datetime, method: str = "GET"
) -> dict[str, Any]:
    manifest = IMAGES[name].manifest
    return event(
        "pull", repository, digest=manifest.digest, tag=tag, media_type=OCI_MANIFEST,
        size=len(manifest.data), method=method, actor="ci", useragent="docker/27.0", timestamp=at,
    )  # fmt: skip


EVENTS = [
    push_event("team/lib", "d", "latest", ago(200), "carol"),
    push_event("team/app", "a", "v1", ago(120), "alice"),
    pull_event("team/app", "a", "v1", ago(100)),
    push_event("team/app", "c", None, ago(20), "alice"),
    push_event("team/app", "b", "v2", ago(10), "bob"),
    pull_event("team/app", "b", None, ago(5)),
    pull_event("team/app", "b", "v2", ago(2)),
    pull_event("team/app", "b", "v2", ago(1), "HEAD"),
]


def fetched(name: str) -> Manifest:
    """What the reconcile fetches of an image's manifest."""
    blob = IMAGES[name].manifest
    ref = ManifestRef(blob.digest, blob.media_type, len(blob.data))
    return Manifest(ref, blob.data, parse_manifest(blob.data, blob.media_type, name))


async def apply_events(database_url: str, events: list[dict[str, Any]]) -> None:
    """Each event through its real handler, one batch each, in order."""
    engine = create_engine(database_url, writer=True)
    try:
        for n, raw in enumerate(events):
            handler = HANDLERS[HANDLER_OF[raw["action"]]](HandlerOptions())
            found = Event.from_raw(raw)
            at = utc_naive(datetime.fromisoformat(raw["timestamp"].replace("Z", "+00:00")))
            plan = handler.plan(Delivery(found, at, f"lifecycle.{handler.name}", 0, n))
            async with engine.begin() as conn:
                await handler.apply([plan], conn)
    finally:
        await engine.dispose()


async def lifecycle_store(database_url: str) -> str:
    """Migrate, apply :data:`EVENTS`, store the contents, write today's snapshot."""
    await migrate_store(database_url)
    await apply_events(database_url, EVENTS)
    engine = create_engine(database_url, writer=True)
    try:
        async with engine.begin() as conn:
            await store_contents(conn, [fetched(name) for name in IMAGES], utc_naive(ago(1)))
            await storage.write_snapshot(conn, NOW)
    finally:
        await engine.dispose()
    return database_url
