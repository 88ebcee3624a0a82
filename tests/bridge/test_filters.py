"""The bridge's event filters (media types, actions, repository globs)."""

from __future__ import annotations

from typing import Any

from bridge.filters import EventFilter
from common.contract import Event


def event(**target: Any) -> Event:
    raw = {"id": "e1", "action": target.pop("action", "push"), "target": {"repository": "team/app", **target}}
    return Event.from_raw(raw)


def test_filters() -> None:
    f = EventFilter.build(
        media_types=["application/octet-stream"], actions=["pull"], include=["team/*"], exclude=["team/tmp*"]
    )
    assert f.reason_to_drop(event(mediaType="application/octet-stream")) == "media_type"
    assert f.reason_to_drop(event(action="pull")) == "action"
    assert f.reason_to_drop(event(repository="other/app")) == "repository_not_included"
    assert f.reason_to_drop(event(repository="team/tmp1")) == "repository_excluded"
    assert f.reason_to_drop(event(mediaType="")) is None  # 3.x empty value: absent
    assert f.reason_to_drop(event(mediaType="application/vnd.oci.image.manifest.v1+json")) is None
    assert EventFilter.build().empty
