"""Hostile input on the envelope parser and the event model: random bytes, deep nesting,
huge numbers, wrong types, invalid UTF-8, mutated real bodies. The only exceptions ever
raised are :class:`ContractError` subclasses; whatever is accepted is valid and encodes."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.contract import (
    ContractError,
    Event,
    InvalidEnvelope,
    InvalidEvent,
    TopicRouter,
    decode_event,
    encode_event,
    header_value,
    parse_envelope,
)

ROUTER = TopicRouter("t.registry.events")
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
fields = st.sampled_from(["repository", "tag", "digest", "mediaType", "size", "length", "fromRepository"])
targets = st.dictionaries(fields, json_values | st.text(max_size=30), max_size=7) | json_values
events = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=40) | json_values,
        "action": st.sampled_from(["push", "pull", "mount", "delete", "", "rename", "Ünïcode"]) | json_values,
        "target": targets,
        "request": st.dictionaries(st.sampled_from(["id", "addr", "method", "useragent"]), json_values),
        "actor": json_values,
        "source": st.dictionaries(st.sampled_from(["addr", "instanceID"]), json_values),
        "timestamp": st.text(max_size=40) | json_values,
    },
)

# shared CPU: a slow example must not read as a flaky one
NO_DEADLINE = settings(deadline=None)


def pipeline(body: bytes) -> list[Event]:
    """What the bridge does with a body, minus HTTP and Kafka: only ContractError escapes
    the parser, and every accepted event is valid and encodes into a record."""
    accepted = []
    for raw in parse_envelope(body):
        try:
            event = Event.from_raw(raw)
        except ContractError:
            continue
        assert event.id and event.action and event.repository
        assert all(isinstance(v, str) for v in (event.id, event.action, event.repository))
        assert event.size is None or (isinstance(event.size, int) and event.size > 0)
        record = encode_event(event, ROUTER)
        assert record.key == event.repository.encode()
        assert decode_event(record.value) == event
        accepted.append(event)
    return accepted


def survives(body: bytes) -> None:
    with contextlib.suppress(ContractError):
        pipeline(body)


@NO_DEADLINE
@given(st.binary(max_size=2000))
def test_random_bytes(body: bytes) -> None:
    survives(body)


@NO_DEADLINE
@given(json_values)
def test_any_json_value_as_a_body(value: Any) -> None:
    body = json.dumps(value).encode()  # stdlib: big ints, NaN and Infinity as Python writes them
    try:
        found = parse_envelope(body)
    except InvalidEnvelope:
        return
    assert isinstance(found, list)
    assert isinstance(value, dict) and isinstance(value.get("events"), list)


@NO_DEADLINE
@given(st.lists(events | json_values, max_size=5))
def test_events_of_any_shape(items: list[Any]) -> None:
    survives(json.dumps({"events": items}).encode())


def nested_body(depth: int, opener: str) -> bytes:
    closer = "]" if opener == "[" else "}"
    nested = opener * depth + "1" + closer * depth
    return (
        f'{{"events":[{{"id":"x","action":"push","target":{{"repository":"r","deep":{nested}}}}}]}}'.encode()
    )


@pytest.mark.parametrize("depth", [200, 249, 250, 251, 252, 300, 1019, 1020, 1021, 100_000])
def test_deep_nesting_at_the_limits(depth: int) -> None:
    """orjson reads 1024 levels and writes 254: what it cannot write back is refused."""
    try:
        accepted = pipeline(nested_body(depth, "["))
    except InvalidEnvelope:
        assert depth > 240
        return
    assert [e.id for e in accepted] == ["x"]


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=5000), st.sampled_from(["[", '{"a":']))
def test_deep_nesting(depth: int, opener: str) -> None:
    try:
        accepted = pipeline(nested_body(depth, opener))
    except InvalidEnvelope as exc:
        assert depth > 240, exc  # deeper than orjson writes back (254 levels): a clean refusal
        return
    assert [e.id for e in accepted] == ["x"]


@NO_DEADLINE
@given(st.sampled_from(["size", "length", "id", "action", "repository"]), st.integers(), st.integers(0, 400))
def test_huge_numbers(name: str, number: int, exponent: int) -> None:
    for literal in (str(number * 10**exponent), f"{number}e{exponent}", f"-{number}.5e-{exponent}"):
        target = f'"repository":"r","{name}":{literal}' if name != "repository" else f'"repository":{literal}'
        head = '"id":"x","action":"push"' if name not in ("id", "action") else f'"{name}":{literal}'
        survives(f'{{"events":[{{{head},"target":{{{target}}}}}]}}'.encode())


BAD_UTF8 = [
    b"\x80",
    b"\xff",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xe2\x82",
    b"\\ud800",
    b"\\udfff",
]


@NO_DEADLINE
@given(st.sampled_from(BAD_UTF8), st.sampled_from(["id", "action", "repository", "tag", "extra"]))
def test_invalid_utf8_in_a_string(bad: bytes, name: str) -> None:
    fields = {"id": b"x", "action": b"push", "repository": b"r", "tag": b"v1", "extra": b"e"}
    fields[name] = b"a" + bad + b"b"
    body = (
        b'{"events":[{"id":"ID","action":"ACTION","extra":"EXTRA",'
        b'"target":{"repository":"REPOSITORY","tag":"TAG"}}]}'
    )
    for field, value in fields.items():
        body = body.replace(field.upper().encode(), value)
    try:
        pipeline(body)
    except InvalidEnvelope:
        return
    raise AssertionError(f"accepted invalid UTF-8 {bad!r} in {name}")


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_real_bodies(fixture_session: list[dict[str, Any]], data: st.DataObject) -> None:
    post = data.draw(st.sampled_from(fixture_session))
    body = bytearray(_body_of(post))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(body)))
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if kind == "flip" and at < len(body):
            body[at] ^= data.draw(st.integers(1, 255))
        elif kind == "cut":
            del body[at : at + data.draw(st.integers(1, 40))]
        else:
            body[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    survives(bytes(body))


def _body_of(post: dict[str, Any]) -> bytes:
    body = post["body"]
    assert isinstance(body, str)
    return body.encode()


def test_the_real_bodies_are_accepted(fixture_session: list[dict[str, Any]]) -> None:
    accepted = [event for post in fixture_session for event in pipeline(_body_of(post))]
    assert len(accepted) == len(fixture_session)


@NO_DEADLINE
@given(st.none() | st.binary(max_size=500) | json_values.map(lambda v: json.dumps(v).encode()))
def test_a_consumer_decoding_any_record_value_gets_an_event_or_invalid_event(value: bytes | None) -> None:
    try:
        event = decode_event(value)
    except InvalidEvent:
        return
    assert event.id and event.action and event.repository


@NO_DEADLINE
@given(st.lists(st.tuples(st.text(max_size=10), st.binary(max_size=20) | st.none()), max_size=5))
def test_header_value_reads_any_headers(headers: list[tuple[str, bytes | None]]) -> None:
    found = header_value(headers, "event-id")  # type: ignore[arg-type]  # Kafka headers may carry None
    assert found is None or isinstance(found, str)
