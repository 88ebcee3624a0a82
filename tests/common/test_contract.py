"""The wire contract, on the real envelopes captured from registry 2.8.2."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from common.contract import (
    Event,
    InvalidEnvelope,
    InvalidEvent,
    TopicRouter,
    ce_type_for,
    decode_event,
    encode_event,
    encode_quarantine,
    header_value,
    parse_envelope,
)


def test_every_fixture_event_round_trips(fixture_envelopes: list[dict[str, Any]]) -> None:
    router = TopicRouter("registry.events")
    for labelled in fixture_envelopes:
        body = orjson.dumps(labelled["envelope"])
        for raw in parse_envelope(body):
            event = Event.from_raw(raw)
            record = encode_event(event, router)
            assert orjson.loads(record.value) == raw  # unknown fields kept
            assert record.key == event.repository.encode()
            assert decode_event(record.value) == event
            expected = {"push": "push", "pull": "pull"}.get(labelled["action"], "other")
            assert record.topic == f"registry.events.{expected}"


def test_headers_carry_ids_and_cloudevents(fixture_envelopes: list[dict[str, Any]]) -> None:
    raw = next(
        ev
        for item in fixture_envelopes
        for ev in item["envelope"]["events"]
        if ev["action"] == "push" and ev["target"].get("tag")
    )
    record = encode_event(Event.from_raw(raw), TopicRouter())
    assert header_value(record.headers, "event-id") == raw["id"]
    assert header_value(record.headers, "ce_id") == raw["id"]
    assert header_value(record.headers, "ce_specversion") == "1.0"
    assert header_value(record.headers, "ce_type") == "org.cncf.distribution.registry.push"
    assert header_value(record.headers, "ce_time") == raw["timestamp"]
    assert (
        header_value(record.headers, "ce_subject") == f"{raw['target']['repository']}:{raw['target']['tag']}"
    )
    assert header_value(record.headers, "ce_source") == "//" + raw["source"]["addr"]
    assert header_value(record.headers, "content-type") == "application/json"


def test_v3_empty_values_read_as_absent() -> None:
    raw = {
        "id": "x1",
        "action": "delete",
        "target": {"repository": "team/a", "digest": "", "mediaType": "", "size": 0, "tag": "v1"},
    }
    event = Event.from_raw(raw)
    assert (event.digest, event.media_type, event.size, event.tag) == (None, None, None, "v1")
    assert event.subject == "team/a:v1"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"action": "push", "target": {"repository": "a"}}, "id"),
        ({"id": "1", "target": {"repository": "a"}}, "action"),
        ({"id": "1", "action": "push", "target": {}}, "target.repository"),
        ({"id": "1", "action": "push", "target": "nope"}, "target.repository"),
        ({"id": 5, "action": "push", "target": {"repository": "a"}}, "id"),
        ("not an object", "not a JSON object"),
    ],
)
def test_invalid_events_name_what_is_missing(raw: Any, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        Event.from_raw(raw)


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[]", b'{"events": {}}', b'{"no": 1}', b"\xff\xfe", b'{"events": 1}']
)
def test_invalid_envelopes(body: bytes) -> None:
    with pytest.raises(InvalidEnvelope):
        parse_envelope(body)


def test_routing_is_configurable() -> None:
    router = TopicRouter("p", {"push": "push", "pull": "pull", "delete": "deletes"})
    assert router.topic_for("delete") == "p.deletes"
    assert router.topic_for("mount") == "p.other"
    assert router.topic_for("rename") == "p.other"
    assert router.topics == ("p.deletes", "p.other", "p.pull", "p.push")
    assert (router.invalid_topic, router.dlq_topic) == ("p.invalid", "p.dlq")


def test_ce_type_for_odd_actions() -> None:
    assert ce_type_for("rename") == "org.cncf.distribution.registry.rename"
    assert ce_type_for("Weird Action!") == "org.cncf.distribution.registry.other"


def test_quarantine_record_keeps_raw_bytes() -> None:
    record = encode_quarantine(b"\xff garbage", "body is not JSON", TopicRouter("p"))
    assert (record.topic, record.value, record.key) == ("p.invalid", b"\xff garbage", None)
    assert header_value(record.headers, "quarantine-reason") == "body is not JSON"


def test_decode_rejects_bad_values() -> None:
    with pytest.raises(InvalidEvent):
        decode_event(None)
    with pytest.raises(InvalidEvent):
        decode_event(b"{oops")
