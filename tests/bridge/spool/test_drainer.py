"""The drainer empties the spool in order: with a publisher that fails for a while, with
the real test broker, and across a broker that is killed and restarted on its port."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from bridge.spool.asyncspool import AsyncSpool
from bridge.spool.drainer import DrainPolicy, PermanentPublishError, SpoolDrainer
from bridge.spool.frame import scan_segment
from bridge.spool.journal import Spool, SpoolSettings
from common.contract import OutgoingRecord
from common.retry import Backoff
from devstack.broker import EmbeddedBroker
from tests.support.kafka import Landed, ProducerPublisher, consume
from tests.support.spooled import event_id, record

FAST = DrainPolicy(batch_records=7, budget=5.0, backoff=Backoff(initial=0.05, maximum=0.5))
REPOS = ("library/alpine", "team/api", "team/web")


class FlakyPublisher:
    """Fails its first ``failures`` calls, like a broker that is away, then keeps all."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.kept: list[OutgoingRecord] = []

    async def publish(self, records: Sequence[OutgoingRecord], budget: float) -> None:
        if self.failures:
            self.failures -= 1
            self.kept.extend(records[:2])  # a batch can land in part before it fails
            raise ConnectionError("broker away")
        self.kept.extend(records)


def groups(prefix: str, count: int, topic: str = "") -> list[list[OutgoingRecord]]:
    """``count`` envelopes over three repositories, some with several events."""
    made = []
    for n in range(count):
        group = [record(n * 10 + i, REPOS[(n + i) % 3]) for i in range(1 + n % 3)]
        made.append([_named(r, prefix, topic) for r in group])
    return made


def _named(item: OutgoingRecord, prefix: str, topic: str) -> OutgoingRecord:
    headers = [(k, prefix.encode() + v if k == "event-id" else v) for k, v in item.headers]
    return OutgoingRecord(topic or item.topic, item.key, item.value, headers)


def by_key(ids_and_keys: list[tuple[bytes | None, str]]) -> dict[bytes | None, list[str]]:
    """Event ids per key, first occurrence only (a replayed duplicate keeps its place)."""
    found: dict[bytes | None, list[str]] = {}
    for key, ident in ids_and_keys:
        if ident not in found.setdefault(key, []):
            found[key].append(ident)
    return found


async def opened(directory: Path) -> AsyncSpool:
    return await AsyncSpool.open(SpoolSettings(directory=directory))


async def test_drainer_retries_until_the_publisher_takes_the_batch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.spool.drainer")
    spool = await opened(tmp_path)
    sent = [r for group in groups("a", 12) for r in group]
    for group in groups("a", 12):
        await spool.append(group)
    publisher = FlakyPublisher(failures=3)
    drainer = SpoolDrainer(spool, publisher, FAST)
    drainer.start()
    try:
        await asyncio.wait_for(drainer.wait_empty(), 60)
    finally:
        await drainer.stop()
    assert drainer.counters.failures == 3
    lines = [r.getMessage() for r in caplog.records if r.name == "bridge.spool.drainer"]
    assert lines == ["spool drain failed; retrying", "spool drained"]  # one line per outage, not per retry
    assert drainer.counters.published == len(sent)
    assert by_key([(r.key, event_id(r)) for r in publisher.kept]) == by_key(
        [(r.key, event_id(r)) for r in sent]
    )
    assert (spool.stats().depth, spool.stats().segments) == (0, 0)


async def test_drainer_wakes_for_records_appended_later(tmp_path: Path) -> None:
    spool = await opened(tmp_path)
    publisher = FlakyPublisher(failures=0)
    drainer = SpoolDrainer(spool, publisher, FAST)
    drainer.start()
    try:
        await drainer.wait_empty()
        for n in range(3):
            await spool.append([record(n)])
            await asyncio.wait_for(drainer.wait_empty(), 60)
            assert [event_id(r) for r in publisher.kept] == [f"ev-{i}" for i in range(n + 1)]
    finally:
        await drainer.stop()


@pytest.mark.kafka
async def test_a_spool_left_by_a_previous_run_drains_to_kafka_in_order(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}.push"
    sent = groups("left-", 40, topic)
    crashed = Spool.open(tmp_path)  # a previous run
    for group in sent:
        crashed.append(group)
    crashed.close()  # the process stops without draining
    spool = await opened(tmp_path)
    publisher = ProducerPublisher(kafka_bootstrap)
    drainer = SpoolDrainer(spool, publisher, DrainPolicy(batch_records=16))
    drainer.start()
    try:
        await asyncio.wait_for(drainer.wait_empty(), 120)
    finally:
        await drainer.stop()
        await publisher.close()
    records = [r for group in sent for r in group]
    landed = await consume(kafka_bootstrap, [topic], expect=len(records))
    assert_landed_in_order(landed, records)


def assert_landed_in_order(landed: list[Landed], sent: list[OutgoingRecord]) -> int:
    """Every sent record landed, in order per key; returns the number of duplicates."""
    ids = [(item.key, item.headers["event-id"].decode()) for item in landed]
    assert by_key(ids) == by_key([(r.key, event_id(r)) for r in sent])
    assert {item.value for item in landed} == {r.value for r in sent}
    return len(ids) - len(set(ids))


class WatchedPublisher(ProducerPublisher):
    """Sets ``failed`` once ``publish`` has failed ``times`` times."""

    def __init__(self, bootstrap_servers: str, times: int) -> None:
        super().__init__(bootstrap_servers)
        self.times, self.failed = times, asyncio.Event()

    async def publish(self, records: Sequence[OutgoingRecord], budget: float) -> None:
        try:
            await super().publish(records, budget)
        except Exception:
            self.times -= 1
            if self.times <= 0:
                self.failed.set()
            raise


@pytest.mark.kafka
async def test_a_broker_killed_and_restarted_on_its_port_gets_everything(
    tmp_path: Path, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}.push"
    broker = EmbeddedBroker(log_path=tmp_path / "tansu.log")
    await asyncio.to_thread(broker.start)
    spool = await opened(tmp_path / "spool")
    publisher = WatchedPublisher(broker.bootstrap_servers, times=2)
    drainer = SpoolDrainer(
        spool, publisher, DrainPolicy(batch_records=16, budget=3.0, backoff=Backoff(initial=0.1, maximum=0.5))
    )
    drainer.start()
    try:
        await spool.append([_named(record(0), "before-", topic)])
        await asyncio.wait_for(drainer.wait_empty(), 60)
        broker.kill()
        sent = groups("outage-", 60, topic)
        for group in sent:
            await spool.append(group)
        await asyncio.wait_for(publisher.failed.wait(), 60)  # the outage was seen
        assert spool.stats().depth == sum(len(g) for g in sent)
        broker = EmbeddedBroker(port=broker.port, log_path=tmp_path / "tansu.log")
        await asyncio.to_thread(broker.start)
        await asyncio.wait_for(drainer.wait_empty(), 120)
        records = [r for group in sent for r in group]
        landed = await consume(broker.bootstrap_servers, [topic], expect=len(records))
        duplicates = assert_landed_in_order(landed, records)  # Tansu is in memory: "before-" is gone
        print(f"landed={len(landed)} sent={len(records)} duplicates={duplicates} "
              f"failures={drainer.counters.failures}")  # fmt: skip
    finally:
        await drainer.stop()
        await publisher.close()
        await spool.close()
        broker.stop()


async def test_damage_under_a_running_drainer_is_retried_not_fatal(tmp_path: Path) -> None:
    spool = await opened(tmp_path)
    await spool.append([record(1)])
    await spool.append([record(2)])
    publisher = FlakyPublisher(failures=1 << 30)  # keeps the records in the spool
    drainer = SpoolDrainer(spool, publisher, FAST)
    drainer.start()
    try:
        await damage_first_segment(tmp_path)
        deadline = asyncio.get_running_loop().time() + 60
        while drainer.counters.failures < 3:
            assert asyncio.get_running_loop().time() < deadline, drainer.counters
            await asyncio.sleep(0.05)
        assert "damaged after it was opened" in (drainer.counters.last_error or "")
        assert drainer.running
    finally:
        await drainer.stop()
        await spool.close()
    reopened = await opened(tmp_path)  # reopening quarantines the damage and keeps the rest
    assert [event_id(item.record) for item in await reopened.peek()] == ["ev-2"]
    await reopened.close()


async def damage_first_segment(directory: Path) -> None:
    def flip() -> None:
        (segment,) = directory.glob("*.seg")
        data = bytearray(segment.read_bytes())
        data[40] ^= 0xFF  # inside the first record's payload
        segment.write_bytes(bytes(data))

    await asyncio.to_thread(flip)


class PickyPublisher:
    """Refuses, for good, every record whose event id is in ``poison``."""

    def __init__(self, poison: set[str]) -> None:
        self.poison = poison
        self.kept: list[OutgoingRecord] = []

    async def publish(self, records: Sequence[OutgoingRecord], budget: float) -> None:
        for index, item in enumerate(records):
            if event_id(item) in self.poison:
                self.kept.extend(records[:index])  # landed before the refusal: replayed, duplicates
                raise PermanentPublishError(index, "MessageSizeTooLargeError")
        self.kept.extend(records)


async def test_a_record_kafka_refuses_for_good_is_set_aside_and_blocks_nothing(tmp_path: Path) -> None:
    spool = await opened(tmp_path)
    for n in range(10):
        await spool.append([record(n)])
    publisher = PickyPublisher({"ev-4"})
    drainer = SpoolDrainer(spool, publisher, FAST)
    drainer.start()
    try:
        await asyncio.wait_for(drainer.wait_empty(), 60)
    finally:
        await drainer.stop()
    assert list(dict.fromkeys(event_id(r) for r in publisher.kept)) == [
        f"ev-{n}" for n in range(10) if n != 4
    ]
    assert (drainer.counters.rejected, drainer.counters.failures) == (1, 0)
    (rejected,) = (tmp_path / "quarantine").glob("rejected-*.seg")
    assert spool.stats().depth == 0
    assert scan_segment(rejected.read_bytes()).frames[0].seq == 5
    await spool.close()
