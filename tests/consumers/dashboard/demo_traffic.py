"""Anonymous traffic with long names, as a registry without authentication sends it (the
demo's ``make run``: no actor), added to the captured session for the page's layout
tests: an anonymous push, pull and delete in ``demo/hello``, and an anonymous mount
between two long repository names. Events in the shape registry 2.8.2 sends
(``tests.support.events``), POSTed like the session's own bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from tests.support.events import OCI_MANIFEST, event

CONTENT_TYPE = "application/vnd.docker.distribution.events.v1+json"
MOUNTED = "platform/observability/otel-collector-contrib"
MOUNTED_FROM = "platform/base-images/debian-bookworm-slim"
MANIFEST = "sha256:" + "4f2a9c" * 10 + "beef"


def at(hhmmss: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-29T{hhmmss}").replace(tzinfo=UTC)


def post(raw: dict[str, Any], seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "headers": {"Content-Type": CONTENT_TYPE},
        "body": orjson.dumps({"events": [raw]}).decode(),
    }


def anonymous(action: str, repository: str, hhmmss: str, **target: Any) -> dict[str, Any]:
    """An event of ``action`` by nobody (no actor), from skopeo on a LAN address."""
    return event(
        action,
        repository,
        actor=None,
        addr="192.168.122.1:51234",
        useragent="skopeo/1.9.3",
        timestamp=at(hhmmss),
        **target,
    )


def anonymous_events() -> list[dict[str, Any]]:
    image = {"tag": "v1", "digest": MANIFEST, "media_type": OCI_MANIFEST, "size": 529}
    mount = anonymous("mount", MOUNTED, "02:05:40", size=31_457_280)
    mount["target"]["fromRepository"] = MOUNTED_FROM
    return [
        anonymous("push", "demo/hello", "02:05:30", method="PUT", **image),
        mount,
        anonymous("pull", "demo/hello", "02:06:20", **image),
        anonymous(
            "delete", "demo/hello", "02:06:30", digest=MANIFEST, media_type=OCI_MANIFEST, method="DELETE"
        ),
    ]


def anonymous_session(first_seq: int) -> list[dict[str, Any]]:
    return [post(raw, first_seq + i) for i, raw in enumerate(anonymous_events())]
