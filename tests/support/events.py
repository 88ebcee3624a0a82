"""Registry-shaped events for tests, as 2.8.2 sends them (see ../shared/fixtures)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

BLOB = "application/octet-stream"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def event(
    action: str,
    repository: str,
    *,
    digest: str | None = None,
    tag: str | None = None,
    media_type: str = BLOB,
    size: int = 100,
    method: str = "GET",
    actor: str | None = "alice",
    addr: str = "10.0.0.1:40000",
    useragent: str = "test-agent/1.0",
    timestamp: datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    digest = digest or f"sha256:{uuid.uuid4().hex}{uuid.uuid4().hex}"
    target: dict[str, Any] = {"mediaType": media_type, "size": size, "digest": digest, "length": size}
    target["repository"] = repository
    if tag:
        target["tag"] = tag
    moment = timestamp or datetime.now(UTC)
    return {
        "id": event_id or str(uuid.uuid4()),
        "timestamp": moment.isoformat().replace("+00:00", "Z"),
        "action": action,
        "target": target,
        "request": {
            "id": str(uuid.uuid4()),
            "addr": addr,
            "host": "registry:5000",
            "method": method,
            "useragent": useragent,
        },
        "actor": {"name": actor} if actor else {},
        "source": {"addr": "registry:5000", "instanceID": "test-instance"},
    }


def bodies(events: Iterable[dict[str, Any]]) -> list[bytes]:
    """One notification body per event, as the registry POSTs them."""
    return [orjson.dumps({"events": [item]}) for item in events]
