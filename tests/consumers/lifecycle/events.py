"""Registry events at chosen times, planned and applied by the real handlers on a real store
(one transaction per call, as the runner's sink does), and manifest contents stored the way
the reconcile stores them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from common.contract import Event
from consumers.handlers.base import Delivery, HandlerOptions
from consumers.handlers.other import OtherHandler
from consumers.handlers.pull import PullHandler
from consumers.handlers.push import PushHandler
from consumers.reconcile.store_view import store_contents
from consumers.registry_api import Manifest, ManifestRef
from consumers.registry_api.manifests import parse_manifest
from consumers.store.engine import create_engine
from devstack.ociimage import OCI_MANIFEST, Blob

BLOB = "application/octet-stream"
_ids = itertools.count()


def event(action: str, at: datetime, repository: str, **target: Any) -> dict[str, Any]:
    """A distribution event; ``actor``, ``method`` and ``useragent`` are taken from ``target``."""
    actor = target.pop("actor", "alice")
    request = {"method": target.pop("method", "GET"), "useragent": target.pop("useragent", "docker/27.0")}
    return {
        "id": f"ev-{next(_ids)}",
        "action": action,
        "timestamp": at.isoformat() + "Z",
        "target": {"repository": repository, "mediaType": OCI_MANIFEST, **target},
        "request": {**request, "addr": "10.0.0.1:5000"},
        "actor": {"name": actor} if actor else {},
    }


def push(at: datetime, repository: str, digest: str, tag: str | None = None, **more: Any) -> dict[str, Any]:
    return event("push", at, repository, digest=digest, tag=tag, size=100, method="PUT", **more)


def pull(
    at: datetime, repository: str, digest: str | None, tag: str | None = None, **more: Any
) -> dict[str, Any]:
    return event("pull", at, repository, digest=digest, tag=tag, **more)


def delete(
    at: datetime, repository: str, *, digest: str | None = None, tag: str | None = None
) -> dict[str, Any]:
    raw = event("delete", at, repository, digest=digest, tag=tag, method="DELETE")
    raw["target"].pop("mediaType")
    return raw


def deliveries(raws: Sequence[dict[str, Any]], topic: str) -> list[Delivery]:
    return [
        Delivery(Event.from_raw(raw), datetime.fromisoformat(raw["timestamp"][:-1]), topic, 0, n)
        for n, raw in enumerate(raws)
    ]


async def apply(url: str, raws: Sequence[dict[str, Any]], options: HandlerOptions | None = None) -> None:
    """Each event through its handler's plan and apply, one batch per handler, in one
    transaction each: push events first, then pull, then the rest."""
    options = options or HandlerOptions()
    handlers: list[Any] = [PushHandler(options), PullHandler(options), OtherHandler(options)]
    engine = create_engine(url, writer=True)
    try:
        for handler in handlers:
            mine = [
                r
                for r in raws
                if (r["action"] if r["action"] in ("push", "pull") else "other") == handler.name
            ]
            if mine:
                async with engine.begin() as connection:
                    await handler.apply([handler.plan(d) for d in deliveries(mine, handler.name)], connection)
    finally:
        await engine.dispose()


def fetched(blob: Blob) -> Manifest:
    """A manifest as the reconcile fetches it."""
    content = parse_manifest(blob.data, blob.media_type, "test")
    return Manifest(ManifestRef(blob.digest, blob.media_type, len(blob.data)), blob.data, content)


async def store_fetched(url: str, blobs: Sequence[Blob]) -> None:
    engine = create_engine(url, writer=True)
    try:
        async with engine.begin() as connection:
            await store_contents(
                connection, [fetched(b) for b in blobs], datetime.now(UTC).replace(tzinfo=None)
            )
    finally:
        await engine.dispose()
