"""With the database down, the consumer retries (keeping its position), then recovers
without a restart, counting every event once. SQLite: the write lock is held by
another connection; PostgreSQL: the connection goes through a TCP proxy that the test
stops and starts (see tests/support/outage.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from common.kafka import KafkaSettings
from consumers.process import ConsumerProcess
from consumers.settings import ConsumerSettings
from devstack.broker import EmbeddedBroker
from tests.consumers.conftest import MakeSettings
from tests.support.consumers import metric, running, wait_for, wait_processed
from tests.support.database import migrate_store, read_table
from tests.support.events import bodies, event
from tests.support.kafka import create_topics, publish_to_kafka
from tests.support.outage import Outage, SqliteWriteLock, TcpProxy

pytestmark = pytest.mark.kafka


@pytest.fixture
async def outage(backend: str, store_url: str) -> AsyncIterator[Outage]:
    if backend == "sqlite":
        lock = SqliteWriteLock(store_url)
        try:
            yield lock
        finally:
            await lock.end()
        return
    proxy = TcpProxy(store_url)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


async def total_pulls(url: str) -> int:
    return sum(row["blob_gets"] for row in await read_table(url, "pulls"))


async def test_with_the_database_down_the_consumer_retries_then_recovers(
    make_settings: MakeSettings, store_url: str, outage: Outage
) -> None:
    pull = make_settings("pull", database_url=outage.url)
    bootstrap, prefix = pull.kafka.bootstrap_servers, pull.topic_prefix
    await create_topics(bootstrap, [pull.topic])
    async with running(pull) as process:
        await publish_to_kafka(bootstrap, prefix, bodies(event("pull", "team/a") for _ in range(5)))
        assert await wait_processed(store_url, "pull", 5) == 5

        await outage.begin()
        await publish_to_kafka(bootstrap, prefix, bodies(event("pull", "team/a") for _ in range(5)))
        retries = await wait_for(lambda: _transient_failures(process), lambda n: n >= 2, every=0.1)
        assert retries >= 2
        assert await wait_processed(store_url, "pull", 5, within=0) == 5  # nothing stored meanwhile
        assert process.loop.health()[0]  # retrying is alive, not stale

        await outage.end()
        assert await wait_processed(store_url, "pull", 10) == 10
    assert await total_pulls(store_url) == 10


async def _transient_failures(process: ConsumerProcess) -> float:
    return metric(process, "regbridge_consumer_failed_total", kind="transient")


async def test_a_consumer_started_before_its_broker_waits_for_it(tmp_path: Path, artifacts_dir: Path) -> None:
    """The broker is down at start-up: the consumer retries, then consumes."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    await migrate_store(url)
    broker = EmbeddedBroker(log_path=artifacts_dir / "tansu-late.log")
    prefix = f"t{uuid.uuid4().hex[:12]}.registry.events"
    pull = ConsumerSettings(
        handler="pull",
        kafka=KafkaSettings(broker.bootstrap_servers),
        topic_prefix=prefix,
        database_url=url,
        poll_timeout_ms=100,
        session_timeout_ms=2000,
        retry_initial_s=0.05,
        retry_max_s=0.5,
        migrate_on_start=False,
    )
    try:
        async with running(pull) as process:
            retries = await wait_for(lambda: _start_retries(process), lambda n: n >= 2, every=0.1)
            assert retries >= 2
            broker.start()
            await create_topics(broker.bootstrap_servers, [pull.topic])
            await publish_to_kafka(broker.bootstrap_servers, prefix, bodies([event("pull", "team/late")]))
            assert await wait_processed(url, "pull", 1) == 1
    finally:
        broker.stop()


async def _start_retries(process: ConsumerProcess) -> int:
    return process.start_retries
