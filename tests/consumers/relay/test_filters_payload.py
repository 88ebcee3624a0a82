"""Filters and payloads are pure functions of the event and the subscription."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from common.contract import Event
from consumers.relay.config import Filters, PayloadFormat, Subscription
from consumers.relay.filters import passes, wanted
from consumers.relay.payload import CLOUDEVENT_CONTENT_TYPE, REGISTRY_CONTENT_TYPE, render

OCI = "application/vnd.oci.image.manifest.v1+json"


def event(action: str = "push", repository: str = "team-a/app", **target: Any) -> Event:
    raw = {
        "id": "e-1",
        "action": action,
        "timestamp": "2026-11-29T03:00:00.123456789Z",
        "target": {"repository": repository, **target},
        "source": {"addr": "registry:5000"},
        "vendor": {"kept": True},
    }
    return Event.from_raw(raw)


MANIFEST = event(mediaType=OCI, digest="sha256:aa", tag="v1.2")
BLOB = event(mediaType="application/octet-stream", digest="sha256:bb")
TAG_DELETE = event("delete", tag="v1.2")
DIGEST_DELETE = event("delete", digest="sha256:aa")


@pytest.mark.parametrize(
    ("filters", "accepted"),
    [
        (Filters(), [MANIFEST, BLOB, TAG_DELETE, DIGEST_DELETE]),
        (Filters(repositories=("team-a/*",)), [MANIFEST, BLOB, TAG_DELETE, DIGEST_DELETE]),
        (Filters(repositories=("team-b/*", "base")), []),
        (Filters(tag=re.compile(r"^v\d+\.")), [MANIFEST, TAG_DELETE]),
        (Filters(tag=re.compile(r"^latest$")), []),
        (Filters(media_types=(OCI,)), [MANIFEST]),
        (Filters(manifests_only=True), [MANIFEST, TAG_DELETE]),
    ],
)
def test_filters(filters: Filters, accepted: list[Event]) -> None:
    every = [MANIFEST, BLOB, TAG_DELETE, DIGEST_DELETE]
    assert [e for e in every if passes(filters, e)] == accepted


def test_glob_is_case_sensitive_and_matches_nested_paths() -> None:
    assert passes(Filters(repositories=("team-a/*",)), event(repository="team-a/x/y"))
    assert not passes(Filters(repositories=("team-a/*",)), event(repository="Team-A/x"))


def test_actions() -> None:
    push_only = Subscription(name="s", url="http://x/", actions=("push",))
    everything = Subscription(name="s", url="http://x/")
    assert wanted(push_only, MANIFEST) and not wanted(push_only, TAG_DELETE)
    assert wanted(everything, TAG_DELETE)


def test_registry_payload_is_the_envelope_the_registry_sends() -> None:
    payload = render(PayloadFormat.REGISTRY, MANIFEST)
    assert payload.content_type == REGISTRY_CONTENT_TYPE
    assert orjson.loads(payload.body) == {"events": [dict(MANIFEST.raw)]}


def test_cloudevent_payload_is_structured_json() -> None:
    payload = render(PayloadFormat.CLOUDEVENT, MANIFEST)
    assert payload.content_type == CLOUDEVENT_CONTENT_TYPE
    assert orjson.loads(payload.body) == {
        "specversion": "1.0",
        "id": "e-1",
        "source": "//registry:5000",
        "type": "org.cncf.distribution.registry.push",
        "subject": "team-a/app:v1.2",
        "time": "2026-11-29T03:00:00.123456789Z",
        "datacontenttype": "application/json",
        "data": dict(MANIFEST.raw),
    }
