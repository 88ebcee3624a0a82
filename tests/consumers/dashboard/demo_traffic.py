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


def anonymous_events() -> list[dict[str, Any]]:
    who = {"actor": None, "addr": "192.168.122.1:51234", "useragent": "skopeo/1.9.3"}
    mount = event("mount", MOUNTED, size=31_457_280, timestamp=at("02:05:40"), **who)
    mount["target"]["fromRepository"] = MOUNTED_FROM
    return [
        event(
            "push",
            "demo/hello",
            tag="v1",
            digest=MANIFEST,
            media_type=OCI_MANIFEST,
            size=529,
            method="PUT",
            timestamp=at("02:05:30"),
            **who,
        ),
        mount,
        event(
            "pull",
            "demo/hello",
            tag="v1",
            digest=MANIFEST,
            media_type=OCI_MANIFEST,
            size=529,
            timestamp=at("02:06:20"),
            **who,
        ),
        event(
            "delete",
            "demo/hello",
            digest=MANIFEST,
            media_type=OCI_MANIFEST,
            method="DELETE",
            timestamp=at("02:06:30"),
            **who,
        ),
    ]


def anonymous_session(first_seq: int) -> list[dict[str, Any]]:
    return [post(raw, first_seq + i) for i, raw in enumerate(anonymous_events())]
