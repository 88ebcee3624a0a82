"""With the database down, the consumer retries (keeping its position), then recovers
without a restart, counting every event once. SQLite: the write lock is held by
another connection; PostgreSQL: the connection goes through a TCP proxy that the test
stops and starts (see tests/support/outage.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.consumers.conftest import MakeSettings
from tests.support.consumers import metric, running, wait_for, wait_processed
from tests.support.database import read_table
from tests.support.events import bodies, event
from tests.support.outage import Outage, SqliteWriteLock, TcpProxy
from tests.support.publish import publish_events
from tests.support.topics import create_topics

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
    bootstrap, prefix = pull.bootstrap_servers, pull.topic_prefix
    await create_topics(bootstrap, [pull.topic])
    async with running(pull) as process:
        await publish_events(bootstrap, prefix, bodies(event("pull", "team/a") for _ in range(5)))
        assert await wait_processed(store_url, "pull", 5) == 5

        await outage.begin()
        await publish_events(bootstrap, prefix, bodies(event("pull", "team/a") for _ in range(5)))
        retries = await wait_for(lambda: _transient_failures(process), lambda n: n >= 2, every=0.1)
        assert retries >= 2
        assert await wait_processed(store_url, "pull", 5, within=0) == 5  # nothing stored meanwhile
        assert process.runner.health()[0]  # retrying is alive, not stale

        await outage.end()
        assert await wait_processed(store_url, "pull", 10) == 10
    assert await total_pulls(store_url) == 10


async def _transient_failures(process: object) -> float:
    return metric(process, "regbridge_consumer_failed_total", kind="transient")  # type: ignore[arg-type]
