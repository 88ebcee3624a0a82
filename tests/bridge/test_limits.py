"""Regression tests for the 5xx that hostile input found, on a real bridge and broker:
nesting deeper than the events can be re-encoded (was 500), records larger than Kafka takes
(was 503 for ever, so the registry retried for ever), and too many events in one body."""

from __future__ import annotations

import orjson
import pytest

from common.contract import MAX_RECORD_BYTES
from tests.support.bridge import bridge_settings, counts, running_bridge
from tests.support.kafka import consume

pytestmark = pytest.mark.kafka

MIB = 1024 * 1024


@pytest.mark.parametrize("depth", [300, 1000, 1023, 1030])
async def test_deeply_nested_bodies_are_quarantined(
    kafka_bootstrap: str, topic_prefix: str, depth: int
) -> None:
    nested = b"[" * depth + b"]" * depth
    as_event = b'{"id": "a", "action": "push", "target": {"repository": "r"}, "x": ' + nested + b"}"
    async with running_bridge(bridge_settings(kafka_bootstrap, topic_prefix)) as bridge:
        alone = await bridge.post(b'{"events": [' + nested + b"]}")
        inside = await bridge.post(b'{"events": [' + as_event + b"]}")
    assert (alone.status_code, inside.status_code) == (202, 202)
    landed = await consume(kafka_bootstrap, [f"{topic_prefix}.invalid", f"{topic_prefix}.push"], expect=2)
    assert [record.topic for record in landed] == [f"{topic_prefix}.invalid"] * 2


async def test_records_over_the_kafka_limit_are_quarantined_truncated(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = bridge_settings(kafka_bootstrap, topic_prefix, max_body_bytes=2 * MIB)
    huge_id = "i" * 600_000  # in the value and in two headers: about 1.8 MB as a record
    event = b'{"id": "%s", "action": "push", "target": {"repository": "r"}}' % huge_id.encode()
    garbage = bytes(range(256)) * (1_500_000 // 256)
    async with running_bridge(settings) as bridge:
        big_event = await bridge.post(b'{"events": [' + event + b"]}")
        big_garbage = await bridge.post(garbage)
    assert big_event.status_code == 202 and counts(big_event)["quarantined"] == 1
    assert "over 1000000" in big_event.json()["error"]
    assert big_garbage.status_code == 202
    landed = await consume(kafka_bootstrap, [f"{topic_prefix}.invalid", f"{topic_prefix}.push"], expect=2)
    assert sorted(len(record.value) for record in landed) == [
        len(orjson.dumps(orjson.loads(event))),
        MAX_RECORD_BYTES,
    ]
    truncated = [record for record in landed if "quarantine-truncated" in record.headers]
    assert [record.headers["quarantine-truncated"] for record in truncated] == [str(len(garbage)).encode()]


async def test_too_many_events_in_one_body_are_quarantined_whole(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = bridge_settings(kafka_bootstrap, topic_prefix, max_events_per_body=10)
    events = b",".join(
        b'{"id": "e%d", "action": "push", "target": {"repository": "r"}}' % i for i in range(11)
    )
    async with running_bridge(settings) as bridge:
        answer = await bridge.post(b'{"events": [' + events + b"]}")
    assert answer.status_code == 202 and "11 events, more than 10" in answer.json()["error"]
    landed = await consume(kafka_bootstrap, [f"{topic_prefix}.invalid", f"{topic_prefix}.push"], expect=1)
    assert [record.topic for record in landed] == [f"{topic_prefix}.invalid"]
