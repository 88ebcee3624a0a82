"""A real pull consumer (embedded broker, real store on SQLite and PostgreSQL) prunes its
expired statistics at start, next to its batch loop, while it keeps storing events."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import insert

from consumers.process import ConsumerProcess
from consumers.runner.heartbeat import now_utc
from consumers.store.engine import create_engine
from consumers.store.tables import pull_clients, pulls
from tests.consumers.conftest import MakeSettings
from tests.support.consumers import metric, running, wait_for, wait_processed
from tests.support.database import read_table
from tests.support.events import bodies, event
from tests.support.kafka import create_topics, publish_to_kafka

pytestmark = pytest.mark.kafka


async def test_the_pull_consumer_prunes_old_minutes_and_stores_new_ones(make_settings: MakeSettings) -> None:
    pull = make_settings("pull")
    old = (now_utc() - timedelta(days=30)).replace(second=0, microsecond=0)
    engine = create_engine(pull.database_url, writer=True)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(pulls),
                [{"minute": old, "repository": "team/old", "reference": "v1", "last_pulled_at": old}],
            )
            client = {"actor": "", "client_addr": "", "useragent": ""}
            await conn.execute(
                insert(pull_clients),
                [{"minute": old, "repository": "team/old", **client, "last_pulled_at": old}],
            )
    finally:
        await engine.dispose()
    await create_topics(pull.kafka.bootstrap_servers, [pull.topic])
    async with running(pull) as process:
        await publish_to_kafka(
            pull.kafka.bootstrap_servers,
            pull.topic_prefix,
            bodies(event("pull", "team/new", size=1) for _ in range(5)),
        )
        assert await wait_processed(pull.database_url, "pull", 5) == 5
        for table in ("pulls", "pull_clients"):
            assert await wait_for(partial(_pruned, process, table), lambda n: n >= 1, within=30.0) == 1.0
    rows = await read_table(pull.database_url, "pulls")
    assert {r["repository"] for r in rows} == {"team/new"}
    assert sum(r["blob_gets"] for r in rows) == 5


async def _pruned(process: ConsumerProcess, table: str) -> float:
    return metric(process, "regbridge_consumer_pruned_rows_total", table=table)
