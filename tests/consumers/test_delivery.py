"""Redelivery, poison records and handler failures, through the real broker, on SQLite
and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from common.contract import OutgoingRecord
from consumers.handlers.base import HandlerError
from consumers.handlers.pull import PullHandler, PullPlan
from consumers.process import ConsumerProcess
from tests.consumers.conftest import MakeSettings
from tests.support.consumers import metric, running, wait_for, wait_processed
from tests.support.database import read_table
from tests.support.events import OCI_MANIFEST, bodies, event
from tests.support.kafka import consume, create_topics, publish_to_kafka, send_records

pytestmark = pytest.mark.kafka
MOMENT = datetime(2026, 11, 29, 2, 3, 4, tzinfo=UTC)
LAYER = "sha256:" + "ab" * 32


async def test_a_duplicate_delivery_is_counted_once(make_settings: MakeSettings) -> None:
    """Straight to Kafka, not through the bridge: the bridge's dedupe window would drop
    the second copy, but Kafka redelivers (a consumer crash before its offset commit,
    a bridge restart, a retry outside the window), and the consumers must count it once."""
    push, pull, other = make_settings("push"), make_settings("pull"), make_settings("other")
    bootstrap, prefix, url = push.kafka.bootstrap_servers, push.topic_prefix, push.database_url
    await create_topics(bootstrap, [push.topic, pull.topic, other.topic])
    manifest = event("push", "team/dup", tag="v1", media_type=OCI_MANIFEST, size=500, timestamp=MOMENT)
    blob_get = event("pull", "team/dup", digest=LAYER, size=10, timestamp=MOMENT)
    mount = event("mount", "team/dup", digest=LAYER, method="POST", timestamp=MOMENT)
    later_get = event("pull", "team/dup", digest=LAYER, size=10, timestamp=MOMENT)
    async with running(push) as pushing, running(pull) as pulling, running(other) as others:
        await publish_to_kafka(bootstrap, prefix, bodies([manifest, blob_get, mount]))
        for handler in ("push", "pull", "other"):
            assert await wait_processed(url, handler, 1) == 1
        # The same records again (a redelivery), in a later batch, with one new pull.
        await publish_to_kafka(bootstrap, prefix, bodies([manifest, blob_get, mount, later_get]))
        assert await wait_processed(url, "pull", 2) == 2
        for process in (pushing, pulling, others):
            assert await wait_for(partial(_duplicates, process), lambda n: n >= 1) == 1

    [row] = await read_table(url, "manifests")
    assert row["push_count"] == 1
    [bucket] = await read_table(url, "pushes")
    assert (bucket["kind"], bucket["count"], bucket["bytes"]) == ("manifest", 1, 500)
    for table in ("pulls", "pulls_hourly", "pulls_daily", "pull_clients"):
        [bucket] = await read_table(url, table)
        assert (bucket["blob_gets"], bucket["bytes"]) == (2, 20), table
    assert [r["event_id"] for r in await read_table(url, "audit_log")] == [mount["id"]]


async def _duplicates(process: ConsumerProcess) -> float:
    return metric(process, "regbridge_consumer_duplicates_total")


async def test_poison_records_go_to_the_dlq_with_their_headers_and_the_consumer_keeps_going(
    make_settings: MakeSettings,
) -> None:
    push = make_settings("push")
    bootstrap, prefix, url = push.kafka.bootstrap_servers, push.topic_prefix, push.database_url
    dlq_topic = push.router.dlq_topic
    await create_topics(bootstrap, [push.topic, dlq_topic])
    no_digest = event("push", "team/poison", media_type=OCI_MANIFEST, tag="broken")
    del no_digest["target"]["digest"]
    garbage = OutgoingRecord(push.topic, b"team/poison", b"{not json", [("custom", b"kept")])

    await publish_to_kafka(bootstrap, prefix, bodies([event("push", "team/poison", media_type=OCI_MANIFEST)]))
    await send_records(bootstrap, [garbage])
    await publish_to_kafka(bootstrap, prefix, bodies([no_digest]))
    await publish_to_kafka(bootstrap, prefix, bodies([event("push", "team/poison", media_type=OCI_MANIFEST)]))
    async with running(push) as process:
        assert await wait_processed(url, "push", 2) == 2
        letters = await consume(bootstrap, [dlq_topic], expect=2)
        assert metric(process, "regbridge_consumer_dead_lettered_total") == 2

    assert len(await read_table(url, "manifests")) == 2
    assert len(letters) == 2
    by_type = {letter.headers["dlq-error-type"]: letter for letter in letters}
    assert set(by_type) == {b"InvalidEvent", b"HandlerError"}
    undecodable = by_type[b"InvalidEvent"]
    assert (undecodable.key, undecodable.value) == (b"team/poison", b"{not json")
    assert undecodable.headers["custom"] == b"kept"
    assert undecodable.headers["dlq-source-offset"] == b"1"
    rejected = by_type[b"HandlerError"]
    assert rejected.headers["event-id"] == no_digest["id"].encode()
    assert b"digest" in rejected.headers["dlq-error"]
    assert rejected.headers["dlq-source-offset"] == b"2"
    for letter in letters:
        assert letter.headers["dlq-handler"] == b"push"
        assert letter.headers["dlq-attempts"] == b"1"
        assert letter.headers["dlq-source-topic"] == push.topic.encode()
        assert letter.headers["dlq-source-partition"] == b"0"
        assert letter.headers["dlq-group"] == push.group.encode()


class FailsOnRepository(PullHandler):
    """The real pull handler, except that storing anything of ``team/bad`` fails: for good
    (``HandlerError``, a record it can never store) or as a bug (any other exception)."""

    def __init__(self, error: type[Exception] = HandlerError) -> None:
        self.calls, self.error = 0, error

    async def apply(self, plans: Sequence[PullPlan], connection: AsyncConnection) -> None:
        self.calls += 1
        if any(plan.repository == "team/bad" for plan in plans):
            raise self.error("cannot store team/bad")
        await super().apply(plans, connection)


async def test_a_record_the_handler_cannot_store_is_dead_lettered_after_its_attempts(
    make_settings: MakeSettings,
) -> None:
    pull = make_settings("pull", max_attempts=3)
    bootstrap, prefix, url = pull.kafka.bootstrap_servers, pull.topic_prefix, pull.database_url
    await create_topics(bootstrap, [pull.topic, pull.router.dlq_topic])
    events = [event("pull", repo, size=1, timestamp=MOMENT) for repo in ("team/a", "team/bad", "team/b")]
    await publish_to_kafka(bootstrap, prefix, bodies(events))
    async with running(pull, FailsOnRepository()):
        assert await wait_processed(url, "pull", 2) == 2
        [letter] = await consume(bootstrap, [pull.router.dlq_topic], expect=1)

    assert letter.headers["event-id"] == events[1]["id"].encode()
    assert letter.headers["dlq-error-type"] == b"HandlerError"
    assert letter.headers["dlq-attempts"] == b"3"
    assert {row["repository"] for row in await read_table(url, "pulls")} == {"team/a", "team/b"}


async def test_a_handler_bug_stops_the_consumer_uncommitted_and_dead_letters_nothing(
    make_settings: MakeSettings,
) -> None:
    """A bug (a TypeError, say) is not the record's fault: dead-lettering would throw away a
    whole topic's worth of events. The consumer reports it and stops before committing, so
    the same records are read again once the handler is fixed."""
    pull = make_settings("pull")
    bootstrap, prefix, url = pull.kafka.bootstrap_servers, pull.topic_prefix, pull.database_url
    await create_topics(bootstrap, [pull.topic, pull.router.dlq_topic])
    events = [event("pull", repo, size=1, timestamp=MOMENT) for repo in ("team/a", "team/bad", "team/b")]
    await publish_to_kafka(bootstrap, prefix, bodies(events))
    process = ConsumerProcess(pull, FailsOnRepository(TypeError))
    with pytest.raises(TypeError, match="cannot store team/bad"):
        await asyncio.wait_for(process.run(signals=False), 60)
    assert await read_table(url, "pulls") == []
    assert await consume(bootstrap, [pull.router.dlq_topic], expect=0, within=2.0) == []
    async with running(pull):  # fixed: the same group starts where nothing was committed
        assert await wait_processed(url, "pull", 3) == 3
    assert {row["repository"] for row in await read_table(url, "pulls")} == {"team/a", "team/bad", "team/b"}
