"""A real push that lands while a pass is running is not undone by it.

The registry notifies the real bridge (in this loop), the push and other consumers store
what it publishes, and the pass reads the registry through a front that holds its HEAD of
``race/app:1.0``: the test pushes ``d2`` while the HEAD waits to be forwarded (so the
registry answers ``d2``, which the store did not have when the pass read it), then ``d3``
while the answer waits to come back. The pass thus saw ``d2`` where the store says
``d3``: its observation is older than the real push, so it is dropped, and the store
keeps ``d3`` with no ``reconcile`` row for the tag. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from devstack.ociimage import build_image
from devstack.registry import Notifications
from tests.consumers.conftest import MakeSettings
from tests.support.bridge import TOKEN, bridge_settings, running_bridge
from tests.support.pusher import ApiPusher
from tests.support.reconciling import (
    audit_kinds,
    observing_consumers,
    pass_settings,
    reconcile_once,
    wait_inventory,
)
from tests.support.registry import LocalRegistry
from tests.support.registry_front import Fault, RegistryFront

pytestmark = pytest.mark.kafka
PUSHER, READER = ("alice", "alice-pw"), ("bob", "bob-pw")


async def _wait(event: threading.Event, what: str) -> None:
    assert await asyncio.to_thread(event.wait, 30), f"timed out waiting for {what}"


async def test_a_push_during_a_pass_is_not_undone(make_settings: MakeSettings, tmp_path: object) -> None:
    consumer = make_settings("push")
    images = [build_image("app", f"race-{n}") for n in range(3)]
    async with running_bridge(
        bridge_settings(consumer.kafka.bootstrap_servers, consumer.topic_prefix)
    ) as bridge:
        registry = LocalRegistry(
            tmp_path / "registry",  # type: ignore[operator]
            Notifications(f"{bridge.url}/events", TOKEN),
            users=dict([PUSHER, READER]),
        )
        await asyncio.to_thread(registry.start)
        pusher = ApiPusher(registry.url, PUSHER)
        try:
            async with observing_consumers(make_settings), pusher.client() as client:
                url = consumer.database_url
                await pusher.image(client, "race/app", "1.0", images[0])
                await wait_inventory(url, lambda inv: inv.tags.get(("race/app", "1.0")) == images[0].digest)
                with RegistryFront(registry.url) as front:
                    before, after = threading.Event(), threading.Event()
                    head = front.add(
                        Fault("HEAD", r"^/v2/race/app/manifests/1.0$", hold_before=before, hold_after=after)
                    )
                    running = asyncio.create_task(
                        reconcile_once(pass_settings(front.url, READER, consumer, settle_s=1.0))
                    )
                    await _wait(head.held, "the pass's HEAD")
                    await pusher.image(client, "race/app", "1.0", images[1])  # the registry will answer d2
                    before.set()
                    await _wait(head.answered, "the registry's answer")
                    await pusher.image(client, "race/app", "1.0", images[2])  # the real, newer push
                    await wait_inventory(
                        url, lambda inv: inv.tags.get(("race/app", "1.0")) == images[2].digest
                    )
                    after.set()
                    summary = await asyncio.wait_for(running, 60)
                inventory = await wait_inventory(url, lambda inv: False, within=2.0)
        finally:
            await asyncio.to_thread(registry.stop)

    assert summary.status == "ok"
    assert inventory.tags[("race/app", "1.0")] == images[2].digest, "the real push was not undone"
    assert [k for k in audit_kinds(inventory) if k[1] == "race/app" and k[0].startswith("tag")] == []
    assert summary.repairs["tag_moved"] == 0
