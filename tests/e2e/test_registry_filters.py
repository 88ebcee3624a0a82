"""The registry-side filter advice in docs/registry-setup.md, checked on the real 2.8.2:
``ignore.actions`` alone is silently ignored (distribution#2916), and works once
``ignore.mediatypes`` lists anything, even a media type that never occurs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from devstack.registry import Notifications
from tests.support.receivers import RecordingReceiver
from tests.support.registry import LocalRegistry
from tests.support.scenario import RegistryClient

NEVER = "application/vnd.registry-kafka-bridge.never"


def _actions_seen(workdir: Path, ignore: dict[str, list[str]]) -> Counter[str]:
    receiver = RecordingReceiver()
    with receiver, LocalRegistry(workdir, Notifications(receiver.url, "t", ignore=ignore)) as registry:
        client = RegistryClient(registry, "alice")
        try:
            digest = client.push_blob("team/filtered", b"one blob")
            client.blob("team/filtered", digest)
            client.blob("team/filtered", digest, method="HEAD")
        finally:
            client.close()
        registry.wait_until_delivered()
        return Counter(event["action"] for event in receiver.events())


@pytest.mark.parametrize(
    ("ignore", "expected"),
    [
        ({}, {"push": 1, "pull": 2}),
        ({"actions": ["pull"]}, {"push": 1, "pull": 2}),  # the 2.x bug: not applied
        ({"mediatypes": [NEVER], "actions": ["pull"]}, {"push": 1}),  # the workaround
        ({"mediatypes": ["application/octet-stream"]}, {}),  # drops every blob event
    ],
    ids=["no-filter", "actions-only-ignored", "workaround", "blob-media-type"],
)
def test_registry_side_filters(
    tmp_path: Path, ignore: dict[str, list[str]], expected: dict[str, int]
) -> None:
    assert _actions_seen(tmp_path, ignore) == Counter(expected)
