"""Hostile and truncated payloads per sender, fuzzed with hypothesis: a normaliser gives
events, a reason to ignore, or a reason to quarantine, and nothing else (pure, many
examples); through the real bridge, signed anew where the sender signs its body, every
answer is 200 or a 202 quarantine, never a 5xx, and no normaliser fails (fewer examples,
so the suite stays fast)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.sources import KINDS
from bridge.sources.model import SourceRequest, Unusable
from common.contract import SOURCE_KINDS, Event, TopicRouter, encode_event
from tests.support.bridge import bridge_settings, running_bridge
from tests.support.sources import SAMPLES, PushTokens, Sample, request_headers, source_settings
from tests.support.strategies import json_values

PURE = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
HTTP_EXAMPLES = 120
ROUTER = TopicRouter("fuzz")


def samples_of(kind: str) -> list[Sample]:
    return [s for s in SAMPLES if s.source == kind]


def mutate(value: Any, data: st.DataObject) -> Any:
    """The sample's JSON with some values replaced by anything JSON can hold."""
    if isinstance(value, dict):
        return {
            k: (data.draw(json_values) if data.draw(st.integers(0, 5)) == 0 else mutate(v, data))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mutate(v, data) for v in value]
    return data.draw(json_values) if data.draw(st.integers(0, 3)) == 0 else value


def hostile_body(item: Sample, data: st.DataObject) -> bytes:
    body = item.body.encode()
    choice = data.draw(st.sampled_from(["truncated", "mutated", "random", "bytes"]))
    if choice == "truncated":
        return body[: data.draw(st.integers(0, max(len(body) - 1, 0)))]
    if choice == "mutated":
        return json.dumps(mutate(json.loads(item.body), data)).encode()
    if choice == "random":
        return json.dumps(data.draw(json_values)).encode()
    return data.draw(st.binary(max_size=300))


def check_normalised(item: Sample, body: bytes, headers: dict[str, str]) -> None:
    request = SourceRequest(item.source, "POST", headers, body, datetime.now(UTC), None)
    try:
        result = KINDS[item.source].normalise(request)
    except Unusable as exc:
        assert str(exc)
        return
    for raw in result.events:
        event = Event.from_raw(raw)  # every event is valid for the contract ...
        encode_event(event, ROUTER)  # ... and encodes as a record
        assert event.source_kind == item.source


@pytest.mark.parametrize("kind", SOURCE_KINDS)
@PURE
@given(data=st.data())
def test_a_normaliser_gives_events_or_a_reason(kind: str, data: st.DataObject) -> None:
    item = data.draw(st.sampled_from(samples_of(kind)))
    headers = {name.lower(): value for name, value in item.headers.items()}
    if data.draw(st.booleans()):
        name = data.draw(st.sampled_from(sorted(headers) or ["x"]))
        headers[name] = data.draw(st.text(max_size=40))
    check_normalised(item, hostile_body(item, data), headers)


def signed_headers(item: Sample, body: bytes, tokens: PushTokens) -> dict[str, str]:
    """The sample's headers, its signature made anew over the hostile body (so that the
    normaliser, not the signature check, meets it)."""
    headers = request_headers(item, tokens)
    secret = (item.test_secret or "").encode()
    if item.source == "ghcr":
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest()
    if item.source == "nexus":
        headers["X-Nexus-Webhook-Signature"] = hmac.new(secret, body, hashlib.sha1).hexdigest()
    return headers


def hostile_requests(count: int) -> list[tuple[Sample, bytes]]:
    """``count`` hostile bodies for the samples of every kind, drawn by hypothesis."""
    found: list[tuple[Sample, bytes]] = []

    @settings(max_examples=count, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def draw(data: st.DataObject) -> None:
        item = data.draw(st.sampled_from(SAMPLES))
        found.append((item, hostile_body(item, data)))

    draw()
    return found


@pytest.mark.kafka
async def test_hostile_payloads_over_http_never_get_a_5xx(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    tokens = PushTokens(tmp_path)
    unclear: list[tuple[str, int]] = []
    answered = 0
    settings_ = bridge_settings(kafka_bootstrap, topic_prefix, sources=source_settings(tokens))
    async with running_bridge(settings_) as bridge:
        for item, body in hostile_requests(HTTP_EXAMPLES):
            headers = signed_headers(item, body, tokens)
            response = await bridge.client.post(item.path(), content=body, headers=headers)
            # the validation handshake carries no credentials: unless it still is one, 401
            allowed = {200, 202, 401} if item.event == "subscription_validation" else {200, 202}
            if response.status_code not in allowed:
                unclear.append((item.name, response.status_code))
            answered += 1
        assert await bridge.metric("regbridge_source_normaliser_errors_total") == 0
        assert (await bridge.client.get("/healthz")).status_code == 200
    assert answered == HTTP_EXAMPLES
    assert unclear == []
