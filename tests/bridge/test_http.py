"""The HTTP surface of the bridge on a real server: auth, body limits, health, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from bridge.app import BridgeApp
from bridge.ingest import BodyTooLarge, read_body
from tests.support.bridge import V1, auth, bridge_settings, registry_body, running_bridge
from tests.support.kafka import consume

pytestmark = pytest.mark.kafka


def prefix_topics(prefix: str) -> list[str]:
    return [f"{prefix}.{s}" for s in ("push", "pull", "other", "invalid")]


async def test_missing_or_wrong_token_gets_401_and_publishes_nothing(
    kafka_bootstrap: str, topic_prefix: str, fixture_envelopes: list[dict[str, Any]]
) -> None:
    body = registry_body(fixture_envelopes[0]["envelope"])
    async with running_bridge(bridge_settings(kafka_bootstrap, topic_prefix)) as bridge:
        refused = [
            await bridge.post(body, {"Content-Type": V1}),
            await bridge.post(body, auth(token="wrong")),
            await bridge.post(body, {"Authorization": "Basic dGVzdC10b2tlbg=="}),
            await bridge.post(body, {"Authorization": "Bearer"}),
        ]
        for answer in refused:
            assert answer.status_code == 401
            assert answer.headers["content-type"] == "application/json"
            assert "error" in answer.json()
        assert await bridge.metric("regbridge_auth_failures_total") == 4
        assert await bridge.metric("regbridge_events_received_total") == 0
    landed = await consume(kafka_bootstrap, prefix_topics(topic_prefix), expect=0, within=2, settle=1.0)
    assert landed == []


async def test_rotated_tokens_are_all_accepted(
    kafka_bootstrap: str, topic_prefix: str, fixture_envelopes: list[dict[str, Any]]
) -> None:
    settings = bridge_settings(kafka_bootstrap, topic_prefix, auth_tokens=("old-token", "new-token"))
    async with running_bridge(settings) as bridge:
        first = await bridge.post(registry_body(fixture_envelopes[0]["envelope"]), auth("old-token"))
        second = await bridge.post(registry_body(fixture_envelopes[1]["envelope"]), auth("new-token"))
        third = await bridge.post(registry_body(fixture_envelopes[2]["envelope"]), auth("test-token"))
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 401)


async def test_anonymous_mode_needs_no_token(
    kafka_bootstrap: str, topic_prefix: str, fixture_envelopes: list[dict[str, Any]]
) -> None:
    settings = bridge_settings(kafka_bootstrap, topic_prefix, auth_tokens=(), allow_anonymous=True)
    async with running_bridge(settings) as bridge:
        answer = await bridge.post(registry_body(fixture_envelopes[0]["envelope"]), {})
    assert answer.status_code == 200


async def test_body_over_the_limit_gets_413(kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = bridge_settings(kafka_bootstrap, topic_prefix, max_body_bytes=2048)
    big = b'{"events": [], "pad": "' + b"x" * 4096 + b'"}'

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for start in range(0, len(big), 512):
            yield big[start : start + 512]

    async with running_bridge(settings) as bridge:
        declared = await bridge.post(big)
        streamed = await bridge.client.post("/events", content=chunked(), headers=auth())
        fits = await bridge.post(b'{"events": []}')
    assert declared.status_code == 413 and "error" in declared.json()
    assert streamed.status_code == 413
    assert fits.status_code == 200
    landed = await consume(kafka_bootstrap, prefix_topics(topic_prefix), expect=0, within=2, settle=0.5)
    assert landed == []


async def test_health_readiness_and_metrics(
    kafka_bootstrap: str, topic_prefix: str, fixture_envelopes: list[dict[str, Any]]
) -> None:
    async with running_bridge(bridge_settings(kafka_bootstrap, topic_prefix)) as bridge:
        assert (await bridge.client.get("/healthz")).status_code == 200
        assert (await bridge.client.get("/readyz")).status_code == 200
        for labelled in fixture_envelopes[:4]:
            assert (await bridge.post(registry_body(labelled["envelope"]))).status_code == 200
        text = (await bridge.client.get("/metrics")).text
        assert 'regbridge_events_received_total{action="push"} 3.0' in text
        assert 'regbridge_events_received_total{action="pull"} 1.0' in text
        assert f'regbridge_events_published_total{{topic="{topic_prefix}.push"}} 3.0' in text
        assert "regbridge_publish_seconds_count 4.0" in text
        assert "regbridge_requests_in_flight 0.0" in text
        assert (await bridge.client.get("/events")).status_code == 405  # Starlette's answer
        assert (await bridge.client.get("/nothing")).status_code == 404


async def test_only_post_events_bypasses_starlette() -> None:
    """The registry's one request goes to the endpoint directly; everything else, lifespan
    included, to Starlette (which routes ``/events`` to the same endpoint)."""
    calls: list[tuple[str, str]] = []

    def recorder(name: str) -> Any:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            calls.append((name, f"{scope['type']} {scope.get('method', '')} {scope.get('path', '')}".strip()))

        return app

    app = BridgeApp(recorder("starlette"), recorder("events"))

    async def nothing() -> Message:
        return {}

    async def ignore(message: Message) -> None:
        pass

    for scope in (
        {"type": "http", "method": "POST", "path": "/events"},
        {"type": "http", "method": "GET", "path": "/events"},
        {"type": "http", "method": "POST", "path": "/events/"},
        {"type": "http", "method": "GET", "path": "/metrics"},
        {"type": "lifespan"},
    ):
        await app(scope, nothing, ignore)
    assert calls == [
        ("events", "http POST /events"),
        ("starlette", "http GET /events"),
        ("starlette", "http POST /events/"),
        ("starlette", "http GET /metrics"),
        ("starlette", "lifespan"),
    ]


def _receive(chunks: list[bytes], seen: list[int]) -> Receive:
    async def receive() -> Message:
        seen.append(1)
        index = len(seen) - 1
        return {"type": "http.request", "body": chunks[index], "more_body": index < len(chunks) - 1}

    return receive


async def test_read_body_stops_at_the_limit_without_reading_the_rest() -> None:
    seen: list[int] = []
    with pytest.raises(BodyTooLarge):
        await read_body(_receive([b"x" * 100] * 50, seen), None, 250)
    assert len(seen) == 3  # 300 bytes read, never the other 4,700


async def test_read_body_trusts_a_declared_length_over_the_limit() -> None:
    seen: list[int] = []
    with pytest.raises(BodyTooLarge):
        await read_body(_receive([b"x"], seen), b"999999", 250)
    assert seen == []


async def test_read_body_joins_chunks_under_the_limit() -> None:
    seen: list[int] = []
    assert await read_body(_receive([b"ab", b"cd", b""], seen), None, 250) == b"abcd"
