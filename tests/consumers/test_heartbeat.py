"""The consumers' heartbeat (``pipeline_uptime``): once a wall-clock minute, in the batch's
transaction or on its own while idle; consecutive minutes extend one run, a missed minute
opens a new one. With a real store (SQLite and PostgreSQL) and, for the process tests, a
real broker; the heartbeat's clock is pinned so that minutes pass at the test's command."""

from __future__ import annotations

import os
import signal
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from common.kafka import KafkaSettings
from consumers.process import ConsumerProcess
from consumers.runner.heartbeat import Heartbeat
from consumers.settings import ConsumerSettings
from consumers.store.engine import create_engine
from devstack.broker import EmbeddedBroker
from tests.consumers.conftest import MakeSettings
from tests.support.consumers import metric, running, wait_for, wait_processed
from tests.support.database import migrate_store, read_table
from tests.support.events import bodies, event
from tests.support.kafka import create_topics, publish_to_kafka
from tests.support.outage import SqliteWriteLock

T0 = datetime(2026, 12, 1, 10, 0, 5)
Run = tuple[str, datetime, datetime]


class PinnedClock:
    """The heartbeat's clock, moved by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def runs(url: str, handler: str = "pull") -> list[Run]:
    rows = await read_table(url, "pipeline_uptime", f"handler = '{handler}'")
    return sorted((r["process"], r["started_at"], r["last_seen_at"]) for r in rows)


async def beat(url: str, heartbeat: Heartbeat, *, commit: bool = True) -> None:
    engine = create_engine(url, writer=True)
    try:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            written = await heartbeat.write(connection)
            if commit:
                await transaction.commit()
                heartbeat.committed(written)
            else:
                await transaction.rollback()
    finally:
        await engine.dispose()


async def test_consecutive_minutes_extend_one_run_and_a_missed_minute_opens_another(store_url: str) -> None:
    clock = PinnedClock(T0)
    one, other = Heartbeat("pull", process="a:1", clock=clock), Heartbeat("pull", process="b:2", clock=clock)
    await beat(store_url, one)
    await beat(store_url, other)
    clock.advance(seconds=30)  # same minute: nothing to write
    assert not one.due()
    await beat(store_url, one)
    clock.advance(seconds=35)  # 10:01:10, the next minute: the run goes on
    await beat(store_url, one)
    clock.advance(minutes=2)  # 10:03:10: 10:02 had no heartbeat, so a new run
    await beat(store_url, one)
    assert await runs(store_url) == [
        ("a:1", T0, T0 + timedelta(seconds=65)),
        ("a:1", T0 + timedelta(seconds=185), T0 + timedelta(seconds=185)),
        ("b:2", T0, T0),
    ]


async def test_a_rolled_back_heartbeat_never_counts(store_url: str) -> None:
    clock = PinnedClock(T0)
    heartbeat = Heartbeat("push", process="a:1", clock=clock)
    await beat(store_url, heartbeat, commit=False)
    assert heartbeat.due() and await runs(store_url, "push") == []
    clock.advance(seconds=1)
    await beat(store_url, heartbeat)
    assert await runs(store_url, "push") == [("a:1", T0 + timedelta(seconds=1), T0 + timedelta(seconds=1))]


@pytest.mark.kafka
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_an_idle_consumer_beats_every_minute_and_a_store_outage_is_a_gap(
    make_settings: MakeSettings, store_url: str
) -> None:
    """Idle, the consumer beats on its own; with the store locked, its batch waits and no
    heartbeat commits; the batch then commits with the heartbeat of its minute, which
    opens a new run: the locked minutes stay a gap."""
    pull = make_settings("pull")
    await create_topics(pull.kafka.bootstrap_servers, [pull.topic])
    clock = PinnedClock(T0)
    async with running(pull, clock=clock) as process:
        first = await wait_for(lambda: runs(store_url), lambda found: len(found) == 1)
        assert [(start, seen) for _, start, seen in first] == [(T0, T0)]
        clock.advance(minutes=1)
        extended = await wait_for(lambda: runs(store_url), lambda found: found[0][2] > T0)
        assert [(start, seen) for _, start, seen in extended] == [(T0, T0 + timedelta(minutes=1))]

        lock = SqliteWriteLock(store_url)
        await lock.begin()
        try:
            clock.advance(minutes=1)  # 10:02:05, with the store locked
            prefix = pull.topic_prefix
            await publish_to_kafka(pull.kafka.bootstrap_servers, prefix, bodies([event("pull", "team/a")]))
            failed = await wait_for(lambda: _transient(process), lambda n: n >= 1, every=0.1)
            assert failed >= 1
            clock.advance(minutes=1)  # 10:03:05, still locked
        finally:
            await lock.end()
        assert await wait_processed(store_url, "pull", 1) == 1
    assert [(start, seen) for _, start, seen in await runs(store_url)] == [
        (T0, T0 + timedelta(minutes=1)),
        (T0 + timedelta(minutes=3), T0 + timedelta(minutes=3)),
    ]


async def test_no_heartbeat_while_the_broker_does_not_answer(tmp_path: Path, artifacts_dir: Path) -> None:
    """A frozen broker (SIGSTOP) answers no fetch: the idle consumer stops beating, and
    beats again once the broker answers."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    await migrate_store(url)
    clock = PinnedClock(T0)
    with EmbeddedBroker(log_path=artifacts_dir / "tansu-heartbeat.log") as broker:
        pull = ConsumerSettings(
            handler="pull",
            kafka=KafkaSettings(broker.bootstrap_servers),
            topic_prefix=f"t{uuid.uuid4().hex[:12]}.registry.events",
            database_url=url,
            poll_timeout_ms=100,
            session_timeout_ms=6000,
            retry_initial_s=0.05,
            retry_max_s=0.5,
            fetch_stale_s=1.0,
            migrate_on_start=False,
        )
        await create_topics(broker.bootstrap_servers, [pull.topic])
        async with running(pull, clock=clock) as process:
            assert len(await wait_for(lambda: runs(url), lambda found: len(found) == 1)) == 1
            os.kill(_pid(broker), signal.SIGSTOP)
            try:
                stale = await wait_for(lambda: _answers(process), lambda answers: not answers, every=0.1)
                assert stale is False
                clock.advance(minutes=1)  # 10:01:05: a heartbeat would be due, if the broker answered
                assert await wait_for(lambda: _answers(process), lambda answers: answers, within=3.0) is False
                assert [(start, seen) for _, start, seen in await runs(url)] == [(T0, T0)]
                clock.advance(minutes=1)  # 10:02:05
            finally:
                os.kill(_pid(broker), signal.SIGCONT)
            back = await wait_for(lambda: runs(url), lambda found: len(found) == 2)
        assert [(start, seen) for _, start, seen in back] == [(T0, T0), (T0 + timedelta(minutes=2),) * 2]


async def _transient(process: ConsumerProcess) -> float:
    return metric(process, "regbridge_consumer_failed_total", kind="transient")


async def _answers(process: ConsumerProcess) -> bool:
    return process.loop.broker_answers()


def _pid(broker: EmbeddedBroker) -> int:
    assert broker.pid is not None
    return broker.pid
