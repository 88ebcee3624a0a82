"""Kafka down: the pass waits and retries, and publishes every observation once. Token auth:
a registry with ``auth: token`` verifying real JWTs from the test token server; tokens are
cached per scope, and a repository the token does not grant is skipped, not a failure."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from common.contract import ORIGIN_HEADER, TopicRouter
from common.kafka import KafkaSettings
from devstack.broker import EmbeddedBroker
from devstack.ociimage import OciLayout, build_image
from devstack.ports import free_port
from tests.consumers.conftest import MakeSettings
from tests.consumers.reconcile.conftest import READER, Filled
from tests.support.kafka import consume
from tests.support.reconciling import observing_consumers, pass_settings, reconcile_once, wait_inventory
from tests.support.registry import LocalRegistry
from tests.support.scenario import Skopeo
from tests.support.token_server import TokenServer

pytestmark = pytest.mark.kafka
# the store plays no part in what these check: one backend is enough
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])


@SQLITE_ONLY
async def test_with_kafka_down_the_pass_waits_and_publishes_each_observation_once(
    filled: Filled, make_settings: MakeSettings, tmp_path: Path
) -> None:
    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "tansu.log")
    consumer = make_settings("push")
    settings = replace(
        pass_settings(filled.url, READER, consumer), kafka=KafkaSettings(broker.bootstrap_servers)
    )
    running = asyncio.create_task(reconcile_once(settings))
    try:
        await asyncio.sleep(4.0)  # the producer cannot start: the pass waits, retrying
        assert not running.done(), "the pass waits for Kafka"
        await asyncio.to_thread(broker.start)
        summary = await asyncio.wait_for(running, 90)
        topic = TopicRouter(prefix=settings.topic_prefix).reconcile_topic
        published = sum(summary.repairs.values())
        records = await consume(broker.bootstrap_servers, [topic], expect=published, within=30, settle=1.0)
    finally:
        running.cancel()
        broker.stop()

    assert summary.status == "ok"
    ids = Counter(r.headers["event-id"] for r in records)
    assert len(ids) == published > 0
    assert set(ids.values()) == {1}, "nothing published twice"
    assert {r.headers[ORIGIN_HEADER] for r in records} == {b"reconcile"}


@pytest.fixture(scope="module")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalRegistry, TokenServer, dict[str, str]]]:
    workdir = tmp_path_factory.mktemp("token-registry")
    users = {"alice": "alice-pw", "bob": "bob-pw"}
    server = TokenServer(workdir / "token", users, hidden={"bob": {"team/secret"}})
    server.start()
    registry = LocalRegistry(workdir / "registry", users=users, auth=server.registry_auth())
    registry.start()
    layout, skopeo = OciLayout(workdir / "layout"), Skopeo(registry, workdir / "skopeo")
    pushed = {}
    for name in ("team/one", "team/two", "team/secret"):
        image = build_image(name.replace("/", "-"), "token")
        pushed[name] = skopeo.copy(layout.add_image(name, image), name, "1.0", user="alice")
    yield registry, server, pushed
    registry.stop()
    server.stop()


@SQLITE_ONLY
async def test_token_auth_reads_the_registry_with_one_token_per_scope(
    token_registry: tuple[LocalRegistry, TokenServer, dict[str, str]], make_settings: MakeSettings
) -> None:
    registry, server, pushed = token_registry
    before = len(server.recorded())
    consumer = make_settings("push")
    expected = {(name, "1.0"): digest for name, digest in pushed.items() if name != "team/secret"}
    async with observing_consumers(make_settings):
        summary = await reconcile_once(pass_settings(registry.url, READER, consumer))
        inventory = await wait_inventory(consumer.database_url, lambda inv: inv.tags == expected)
    asked = server.recorded()[before:]

    assert summary.status == "ok", summary.error
    assert dict(summary.errors) == {"forbidden": 1}, "a repository the token does not grant is skipped"
    assert inventory.tags == expected
    scopes = Counter(scope for request in asked for scope in request.scopes)
    assert {request.user for request in asked} == {"bob"}
    assert scopes["registry:catalog:*"] == 1
    for name in pushed:
        assert scopes[f"repository:{name}:pull"] == 1, name  # cached: one token per repository


@SQLITE_ONLY
async def test_refused_credentials_at_the_token_server_fail_the_pass(
    token_registry: tuple[LocalRegistry, TokenServer, dict[str, str]], make_settings: MakeSettings
) -> None:
    registry, _, _ = token_registry
    summary = await reconcile_once(pass_settings(registry.url, ("bob", "wrong"), make_settings("push")))
    assert summary.status == "failed"
    assert "refused the configured credentials" in (summary.error or "")
