"""``POST /sources/<kind>/events`` on the real bridge and broker: every sample lands as the
expected record (topic, key, value fields, headers); handshakes publish nothing; disabled
kinds and misplaced URL secrets answer 404; a retry lands once; a payload that cannot be
normalised is quarantined with its reason."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path

import httpx
import orjson
import pytest

from bridge.sources import SourceSettings
from common.contract import ce_type_for, decode_event
from tests.support.bridge import bridge_settings, running_bridge
from tests.support.kafka import Landed, consume
from tests.support.sources import (
    SAMPLES,
    URL_SECRET,
    PushTokens,
    Sample,
    request_headers,
    sample,
    source_settings,
)

pytestmark = pytest.mark.kafka
TOPICS = ("push", "pull", "other", "invalid")


def topics_of(prefix: str) -> list[str]:
    return [f"{prefix}.{suffix}" for suffix in TOPICS]


async def post(client: httpx.AsyncClient, item: Sample, tokens: PushTokens) -> httpx.Response:
    return await client.post(item.path(), content=item.body.encode(), headers=request_headers(item, tokens))


def check_record(record: Landed, item: Sample, expected: dict[str, object], prefix: str) -> None:
    event = decode_event(record.value)
    suffix = {"push": "push", "pull": "pull"}.get(str(expected["action"]), "other")
    assert record.topic == f"{prefix}.{suffix}"
    assert record.key == str(expected["repository"]).encode()
    for name in ("action", "repository", "tag", "digest", "media_type", "size", "actor"):
        assert getattr(event, name) == expected[name], name
    if expected["id"] is not None:
        assert event.id == expected["id"]
    if expected["timestamp"] is not None:
        assert datetime.fromisoformat(str(expected["timestamp"])) == datetime.fromisoformat(
            str(event.timestamp)
        )
    value = orjson.loads(record.value)
    assert value["source"]["kind"] == item.source
    assert value["source"]["payload"] == json.loads(item.body)
    headers = record.headers
    assert headers["event-id"] == headers["ce_id"] == event.id.encode()
    assert headers["action"] == str(expected["action"]).encode()
    assert headers["ce_type"] == ce_type_for(str(expected["action"])).encode()
    assert headers["source-kind"] == item.source.encode()
    assert headers["ce_time"] == str(event.timestamp).encode()
    assert headers["ce_source"].startswith(b"/")
    assert headers["ce_subject"] == event.subject.encode()
    if event.source_type is not None:
        assert headers["ce_sourcetype"] == event.source_type.encode()


async def test_every_sample_lands_as_the_expected_record(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    tokens = PushTokens(tmp_path)
    settings = bridge_settings(kafka_bootstrap, topic_prefix, sources=source_settings(tokens))
    wanted: dict[tuple[object, ...], tuple[Sample, dict[str, object]]] = {}
    async with running_bridge(settings) as bridge:
        for item in SAMPLES:
            response = await post(bridge.client, item, tokens)
            assert response.status_code == 200, (item.name, response.text)
            if item.is_image_event:
                assert response.headers["x-regbridge-outcome"].startswith(f"published={len(item.expected)},")
                for expected in item.expected:
                    key = (item.source, expected["action"], expected["repository"], expected["tag"])
                    wanted[(*key, expected["digest"])] = (item, expected)
        assert await bridge.metric("regbridge_source_auth_failures_total") == 0
    landed = await consume(kafka_bootstrap, topics_of(topic_prefix), expect=len(wanted))
    assert len(landed) == len(wanted)
    for record in landed:
        event = decode_event(record.value)
        item, expected = wanted.pop(
            (event.source_kind, event.action, event.repository, event.tag, event.digest)
        )
        check_record(record, item, expected, topic_prefix)
    assert wanted == {}


async def test_a_retry_lands_once_and_garbage_is_quarantined_with_its_reason(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    item = sample("harbor-default", "push")
    settings = bridge_settings(kafka_bootstrap, topic_prefix, sources=source_settings(None, ("harbor",)))
    async with running_bridge(settings) as bridge:
        first = await post(bridge.client, item, PushTokens(tmp_path))
        again = await post(bridge.client, item, PushTokens(tmp_path))
        assert first.status_code == again.status_code == 200
        assert again.headers["x-regbridge-outcome"].startswith("published=0,duplicates=1")
        bad = await bridge.client.post(
            item.path(), content=b'{"type": "PUSH_ARTIFACT"}', headers=item.headers
        )
        assert bad.status_code == 202 and "resources" in bad.json()["error"]
        assert await bridge.metric("regbridge_source_quarantined_total") == 1
    landed = await consume(kafka_bootstrap, topics_of(topic_prefix), expect=2)
    assert sorted(r.topic.rsplit(".", 1)[1] for r in landed) == ["invalid", "push"]
    (invalid,) = (r for r in landed if r.topic.endswith(".invalid"))
    assert invalid.value == b'{"type": "PUSH_ARTIFACT"}'
    assert invalid.headers["quarantine-reason"].startswith(b"harbor: ")


async def test_handshakes_are_answered_and_publish_nothing(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    validation = sample("eventgrid-subscription-validation", "subscription_validation")
    settings = bridge_settings(kafka_bootstrap, topic_prefix, sources=source_settings(None, ("acr",)))
    async with running_bridge(settings) as bridge:
        answer = await bridge.client.post(
            validation.path(), content=validation.body, headers=validation.headers
        )
        assert answer.status_code == 200
        code = json.loads(validation.body)[0]["data"]["validationCode"]
        assert answer.json() == {"validationResponse": code}
        origin = {"WebHook-Request-Origin": "eventgrid.azure.net"}
        options = await bridge.client.options("/sources/acr/events", headers=origin)
        assert options.status_code == 200
        assert options.headers["webhook-allowed-origin"] == "eventgrid.azure.net"
        ping = {"X-GitHub-Event": "ping"}
        assert (
            await bridge.client.post("/sources/ghcr/events", content=b"{}", headers=ping)
        ).status_code == 404
        pushed = sample("acr-eventgrid-cloudevents", "push")
        assert (await post(bridge.client, pushed, PushTokens(tmp_path))).status_code == 200
    landed = await consume(kafka_bootstrap, topics_of(topic_prefix), expect=1)
    assert [decode_event(r.value).id for r in landed] == [pushed.expected[0]["id"]]


async def test_disabled_kinds_and_misplaced_url_secrets_answer_404(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    sources = dataclasses.replace(source_settings(None, ("harbor", "quay")))
    settings = bridge_settings(kafka_bootstrap, topic_prefix, sources=sources)
    harbor = sample("harbor-default", "push")
    async with running_bridge(settings) as bridge:
        client = bridge.client
        for path in ("/sources/zot/events", "/sources/nope/events", f"/sources/harbor/events/{URL_SECRET}"):
            answer = await client.post(path, content=harbor.body, headers=harbor.headers)
            assert answer.status_code == 404, path
        assert (await client.get("/sources/harbor/events")).status_code == 405
        quay = sample("quay-repo-push", "push")
        missing = await client.post("/sources/quay/events", content=quay.body, headers=quay.headers)
        assert missing.status_code == 401
        assert (await client.post(quay.path(), content=quay.body, headers=quay.headers)).status_code == 200


async def test_a_bridge_without_sources_answers_404(kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = bridge_settings(kafka_bootstrap, topic_prefix, sources=SourceSettings())
    harbor = sample("harbor-default", "push")
    async with running_bridge(settings) as bridge:
        answer = await bridge.client.post(harbor.path(), content=harbor.body, headers=harbor.headers)
        assert answer.status_code == 404
