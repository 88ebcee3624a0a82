"""POST /events against the real broker: what lands, where, and with which headers."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import orjson
import pytest

from common.contract import ce_type_for
from tests.support.bridge import V1, V2, auth, bridge_settings, counts, registry_body, running_bridge
from tests.support.kafka import consume

pytestmark = pytest.mark.kafka


def topics_of(prefix: str) -> list[str]:
    return [f"{prefix}.{suffix}" for suffix in ("push", "pull", "other", "invalid")]


async def test_every_fixture_envelope_lands_on_its_topic(
    kafka_bootstrap: str, topic_prefix: str, fixture_envelopes: list[dict[str, Any]]
) -> None:
    sent: dict[str, dict[str, Any]] = {}
    async with running_bridge(bridge_settings(kafka_bootstrap, topic_prefix)) as bridge:
        for labelled in fixture_envelopes:
            envelope = labelled["envelope"]
            response = await bridge.post(
                registry_body(envelope), auth(content_type=labelled["http"]["content_type"])
            )
            assert response.status_code == 200, response.text
            for event in envelope["events"]:
                sent[event["id"]] = event
    landed = await consume(kafka_bootstrap, topics_of(topic_prefix), expect=len(sent))
    assert len(landed) == len(sent)
    for record in landed:
        event = sent[record.headers["event-id"].decode()]
        suffix = {"push": "push", "pull": "pull"}.get(event["action"], "other")
        assert record.topic == f"{topic_prefix}.{suffix}"
        assert record.key == event["target"]["repository"].encode()
        assert orjson.loads(record.value) == event
        assert record.value == orjson.dumps(event)  # compact
        assert record.headers["action"] == event["action"].encode()
        assert record.headers["repository"] == event["target"]["repository"].encode()
        assert record.headers["content-type"] == b"application/json"
        assert record.headers["ce_specversion"] == b"1.0"
        assert record.headers["ce_id"] == event["id"].encode()
        assert record.headers["ce_type"] == ce_type_for(event["action"]).encode()
        assert record.headers["ce_time"] == event["timestamp"].encode()
        assert record.headers["ce_source"] == f"//{event['source']['addr']}".encode()
        tag = event["target"].get("tag")
        subject = record.headers["ce_subject"].decode()
        assert subject.startswith(event["target"]["repository"])
        if tag:
            assert subject.endswith(f":{tag}")


def three_x_delete(fixture_envelopes: list[dict[str, Any]]) -> dict[str, Any]:
    """A 3.x-style tag delete: v2+json, with "" and 0 for the absent values."""
    base = next(e for e in fixture_envelopes if e["action"] == "delete")["envelope"]["events"][0]
    event = copy.deepcopy(base)
    event["id"] = str(uuid.uuid4())
    event["target"].update({"mediaType": "", "size": 0, "digest": "", "tag": "v1"})
    return {"events": [event]}


@pytest.mark.parametrize("content_type", [V1, V2, "application/json", None, "text/plain"])
async def test_content_types_never_refuse_an_envelope(
    kafka_bootstrap: str, topic_prefix: str, fixture_envelopes: list[dict[str, Any]], content_type: str | None
) -> None:
    envelope = three_x_delete(fixture_envelopes)
    async with running_bridge(bridge_settings(kafka_bootstrap, topic_prefix)) as bridge:
        response = await bridge.post(registry_body(envelope), auth(content_type=content_type))
    assert response.status_code == 200, response.text
    landed = await consume(kafka_bootstrap, [f"{topic_prefix}.other"], expect=1)
    assert [orjson.loads(r.value) for r in landed] == envelope["events"]
    assert landed[0].headers["ce_subject"].endswith(b":v1")


async def test_non_envelope_body_is_quarantined_with_202(kafka_bootstrap: str, topic_prefix: str) -> None:
    bodies = [b"not json at all", b"[1, 2]", b'{"no_events": true}']
    async with running_bridge(bridge_settings(kafka_bootstrap, topic_prefix)) as bridge:
        for body in bodies:
            response = await bridge.post(body)
            assert response.status_code == 202
            assert "error" in response.json()
        assert await bridge.metric("regbridge_quarantined_total") == 3
    landed = await consume(kafka_bootstrap, topics_of(topic_prefix), expect=3)
    assert sorted(r.value for r in landed) == sorted(bodies)
    assert {r.topic for r in landed} == {f"{topic_prefix}.invalid"}
    assert all(r.headers["quarantine-reason"] for r in landed)


async def test_incomplete_events_are_quarantined_one_by_one(
    kafka_bootstrap: str, topic_prefix: str, fixture_envelopes: list[dict[str, Any]]
) -> None:
    good = copy.deepcopy(fixture_envelopes[0]["envelope"]["events"][0])
    no_id = {k: v for k, v in good.items() if k != "id"}
    no_repo = copy.deepcopy(good) | {"id": str(uuid.uuid4())}
    del no_repo["target"]["repository"]
    body = registry_body({"events": [no_id, good, no_repo, "a string"]})
    async with running_bridge(bridge_settings(kafka_bootstrap, topic_prefix)) as bridge:
        response = await bridge.post(body)
    assert response.status_code == 202
    assert counts(response)["published"] == 1
    assert counts(response)["quarantined"] == 3
    landed = await consume(kafka_bootstrap, topics_of(topic_prefix), expect=4)
    by_topic = sorted((r.topic, r.value) for r in landed)
    assert [t for t, _ in by_topic].count(f"{topic_prefix}.invalid") == 3
    assert (f"{topic_prefix}.push", orjson.dumps(good)) in by_topic
    quarantined = [orjson.loads(v) for t, v in by_topic if t.endswith(".invalid")]
    assert no_id in quarantined and no_repo in quarantined and "a string" in quarantined


async def test_duplicates_are_answered_200_and_published_once(
    kafka_bootstrap: str, topic_prefix: str, fixture_envelopes: list[dict[str, Any]]
) -> None:
    body = registry_body(fixture_envelopes[2]["envelope"])
    async with running_bridge(bridge_settings(kafka_bootstrap, topic_prefix)) as bridge:
        answers = [await bridge.post(body) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [counts(a)["duplicates"] for a in answers] == [0, 1, 1]
        assert await bridge.metric("regbridge_events_duplicate_total") == 2
    landed = await consume(kafka_bootstrap, topics_of(topic_prefix), expect=1, settle=1.0)
    assert len(landed) == 1


async def test_filtered_events_are_answered_200_and_never_published(
    kafka_bootstrap: str, topic_prefix: str, fixture_envelopes: list[dict[str, Any]]
) -> None:
    settings = bridge_settings(
        kafka_bootstrap,
        topic_prefix,
        ignore_media_types=("application/octet-stream",),
        ignore_actions=("mount",),
        repositories_exclude=("team/other",),
    )
    kept: list[str] = []
    async with running_bridge(settings) as bridge:
        for labelled in fixture_envelopes:
            event = labelled["envelope"]["events"][0]
            answer = await bridge.post(registry_body(labelled["envelope"]))
            assert answer.status_code == 200
            if counts(answer)["published"]:
                kept.append(event["id"])
            else:
                assert counts(answer)["filtered"] == 1
        filtered = await bridge.metric("regbridge_events_filtered_total")
    assert filtered == len(fixture_envelopes) - len(kept) > 0
    landed = await consume(kafka_bootstrap, topics_of(topic_prefix), expect=len(kept), settle=1.0)
    assert sorted(r.headers["event-id"].decode() for r in landed) == sorted(kept)
    for record in landed:
        event = orjson.loads(record.value)
        assert event["action"] != "mount"
        assert event["target"].get("mediaType") != "application/octet-stream"
        assert event["target"]["repository"] != "team/other"


async def test_empty_events_list_gets_200(kafka_bootstrap: str, topic_prefix: str) -> None:
    async with running_bridge(bridge_settings(kafka_bootstrap, topic_prefix)) as bridge:
        response = await bridge.post(b'{"events": []}')
    assert response.status_code == 200
    assert counts(response)["published"] == 0


async def test_the_real_session_replays_in_order(
    kafka_bootstrap: str, topic_prefix: str, fixture_session: list[dict[str, Any]]
) -> None:
    """Every POST of a real registry session, byte for byte (retries included)."""
    ids: list[str] = []
    async with running_bridge(bridge_settings(kafka_bootstrap, topic_prefix)) as bridge:
        for post in fixture_session:
            headers = auth(content_type=post["headers"].get("Content-Type"))
            answer = await bridge.post(post["body"].encode(), headers)
            assert answer.status_code == 200, answer.text
            ids.extend(e["id"] for e in orjson.loads(post["body"])["events"])
    unique = list(dict.fromkeys(ids))
    landed = await consume(kafka_bootstrap, topics_of(topic_prefix), expect=len(unique), settle=1.0)
    assert sorted(r.headers["event-id"].decode() for r in landed) == sorted(unique)
    streams: dict[tuple[str, bytes], list[str]] = {}
    for record in sorted(landed, key=lambda r: (r.topic, r.partition, r.offset)):
        streams.setdefault((record.topic, record.key or b""), []).append(record.headers["event-id"].decode())
    for stream, got in streams.items():  # per topic and repository, in the order sent
        assert got == [i for i in unique if i in set(got)], stream
