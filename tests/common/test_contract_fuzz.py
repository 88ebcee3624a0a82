"""Hostile input to the envelope parser and the record encoders (hypothesis): whatever the
bytes, the result is valid data or a :class:`ContractError`, and whatever is accepted can be
encoded into a record Kafka takes."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.contract import (
    ENCODABLE_DEPTH,
    MAX_RECORD_BYTES,
    ContractError,
    Event,
    InvalidEnvelope,
    TopicRouter,
    decode_event,
    encode_event,
    encode_quarantine,
    header_value,
    parse_envelope,
)
from tests.support.strategies import json_values

ROUTER = TopicRouter()
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

field_values = json_values | st.text(min_size=1, max_size=30)
event_like = st.fixed_dictionaries(
    {},
    optional={
        "id": field_values,
        "action": st.sampled_from(["push", "pull", "mount", "delete", ""]) | field_values,
        "timestamp": field_values,
        "target": st.fixed_dictionaries(
            {},
            optional={
                "repository": field_values,
                "tag": field_values,
                "digest": field_values,
                "mediaType": field_values,
                "size": st.integers(-(2**63), 2**63 - 1) | json_values,
                "length": st.integers(-(2**63), 2**63 - 1) | json_values,
            },
        )
        | json_values,
        "request": st.dictionaries(st.sampled_from(["addr", "id", "method", "useragent"]), field_values)
        | json_values,
        "actor": st.dictionaries(st.just("name"), field_values) | json_values,
        "source": st.dictionaries(st.sampled_from(["addr", "instanceID"]), field_values) | json_values,
    },
)


def accepted(body: bytes) -> list[Event]:
    """Parse and validate as the receiver does; every valid event must encode."""
    valid = []
    for raw in parse_envelope(body):
        try:
            event = Event.from_raw(raw)
        except ContractError:
            encode_quarantine(orjson.dumps(raw), "bad event", ROUTER)
            continue
        record = encode_event(event, ROUTER)
        assert record.topic.startswith(ROUTER.prefix + ".")
        assert orjson.loads(record.value) == orjson.loads(orjson.dumps(event.raw))
        valid.append(event)
    return valid


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_are_refused_cleanly(body: bytes) -> None:
    with contextlib.suppress(ContractError):
        accepted(body)


@FUZZ
@given(
    st.lists(event_like | json_values, max_size=5),
    st.dictionaries(st.text(max_size=5), json_values, max_size=3),
)
def test_envelopes_of_odd_events(events: list[Any], extra: dict[str, Any]) -> None:
    body = orjson.dumps({**extra, "events": events})
    for event in accepted(body):
        assert isinstance(event.id, str) and event.id
        assert isinstance(event.repository, str) and event.repository
        assert event.size is None or (isinstance(event.size, int) and event.size > 0)


@FUZZ
@given(json_values)
def test_any_json_that_is_not_an_envelope_is_invalid(value: Any) -> None:
    body = orjson.dumps(value)
    if isinstance(value, dict) and isinstance(value.get("events"), list):
        return
    with pytest.raises(InvalidEnvelope):
        parse_envelope(body)


@FUZZ
@given(st.binary(min_size=1, max_size=64), st.integers(0, 200))
def test_invalid_utf8_anywhere_is_invalid(junk: bytes, at: int) -> None:
    good = b'{"events": [{"id": "a", "action": "push", "target": {"repository": "r"}}]}'
    body = good[: at % len(good)] + b"\xff" + junk + good[at % len(good) :]
    with pytest.raises(InvalidEnvelope):
        parse_envelope(body)


EVENT = b'{"id": "a", "action": "push", "target": {"repository": "r"}, "x": %s}'


@pytest.mark.parametrize("depth", [10, ENCODABLE_DEPTH - 4, ENCODABLE_DEPTH, 600, 1023, 1025, 100_000])
def test_deep_nesting_is_accepted_only_when_it_can_be_re_encoded(depth: int) -> None:
    body = b'{"events": [' + EVENT % (b"[" * depth + b"]" * depth) + b"]}"
    try:
        events = accepted(body)
    except InvalidEnvelope as exc:
        assert depth >= ENCODABLE_DEPTH, exc
        assert "nested" in str(exc) or "depth" in str(exc)
    else:
        assert depth < ENCODABLE_DEPTH and len(events) == 1


@pytest.mark.parametrize(
    "number", [b"1" + b"0" * 400, b"-" + b"9" * 400, b"1e999", b"-1e400", b"1e-400", b"18446744073709551616"]
)
def test_huge_numbers(number: bytes) -> None:
    body = b'{"events": [{"id": "a", "action": "push", "target": {"repository": "r", "size": %s}}]}' % number
    try:
        events = accepted(body)
    except InvalidEnvelope:
        return
    assert events[0].size is None  # a float is no size


def test_too_many_events_are_refused_as_a_whole() -> None:
    body = orjson.dumps({"events": [{}] * 1001})
    with pytest.raises(InvalidEnvelope, match="1001 events, more than 1000"):
        parse_envelope(body)
    assert len(parse_envelope(body, max_events=2000)) == 1001


def test_quarantine_records_are_capped() -> None:
    record = encode_quarantine(b"x" * (MAX_RECORD_BYTES + 10), "r" * 5000, ROUTER, "\udcff-source")
    headers = dict(record.headers)
    assert len(record.value) == MAX_RECORD_BYTES
    assert headers["quarantine-truncated"] == str(MAX_RECORD_BYTES + 10).encode()
    assert len(headers["quarantine-reason"]) == 1024
    assert record.size < 1024 * 1024


@FUZZ
@given(st.binary(max_size=1024) | json_values.map(orjson.dumps) | event_like.map(orjson.dumps))
def test_consumers_decode_any_record_value_cleanly(value: bytes) -> None:
    """What a consumer reads from a topic anyone can write to: an Event or a ContractError."""
    try:
        event = decode_event(value)
    except ContractError:
        return
    assert event.id and event.action and event.repository


@FUZZ
@given(st.lists(st.tuples(st.text(max_size=10), st.binary(max_size=20) | st.none()), max_size=5))
def test_header_values_decode_whatever_the_bytes(headers: list[tuple[str, bytes]]) -> None:
    for name, _ in headers:
        value = header_value(headers, name)
        assert value is None or isinstance(value, str)
