"""The reconcile's observations as records: the value is an event like the registry's, the
headers are the bridge's plus ``regbridge-origin``, and a malformed one is a contract error."""

from __future__ import annotations

import orjson
import pytest

from common.contract import (
    CLEANUP_USER_AGENT,
    ORIGIN_HEADER,
    RECONCILE_USER_AGENT,
    Event,
    InvalidEvent,
    Observation,
    TopicRouter,
    decode_event,
    encode_observation,
    made_by_cleanup,
    made_by_reconcile,
)


def observation(**changes: object) -> Observation:
    fields: dict[str, object] = {
        "id": "0b6c7f1e-2f6b-5d5e-9d8a-3f1c2b4a5e6f",
        "subject": "tag",
        "present": True,
        "repository": "team/a",
        "timestamp": "2026-12-01T10:00:00.000000Z",
        "pass_id": "pass-1",
        "source": "registry:5000",
        "tag": "1.0",
        "digest": "sha256:" + "a" * 64,
        "media_type": "application/vnd.oci.image.manifest.v1+json",
        "size": 401,
        "method": "HEAD",
    }
    fields.update(changes)
    return Observation(**fields)  # type: ignore[arg-type]


def test_an_observation_is_a_record_of_the_reconcile_topic_that_decodes_back() -> None:
    record = encode_observation(observation(), TopicRouter(prefix="p"))
    assert record.topic == "p.reconcile" and record.key == b"team/a"
    headers = dict(record.headers)
    assert headers[ORIGIN_HEADER] == b"reconcile"
    assert headers["action"] == b"reconcile" and headers["event-id"] == observation().id.encode()
    assert headers["ce_subject"] == b"team/a:1.0" and headers["ce_source"] == b"//registry:5000"
    event = decode_event(record.value)
    assert event.action == "reconcile" and event.useragent == RECONCILE_USER_AGENT
    assert Observation.from_event(event) == observation()
    assert orjson.loads(record.value)["reconcile"] == {"subject": "tag", "present": True, "pass": "pass-1"}


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "blob"},
        {"tag": None},
        {"subject": "manifest", "digest": None, "tag": None},
        {"digest": None},
    ],
)
def test_a_malformed_observation_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidEvent):
        observation(**changes)


def test_an_event_that_is_no_observation_is_refused() -> None:
    raw = {"id": "e", "action": "push", "target": {"repository": "r"}, "timestamp": "2026-12-01T10:00:00Z"}
    with pytest.raises(InvalidEvent, match="not a reconcile observation"):
        Observation.from_event(Event.from_raw(raw))
    no_time = {
        "id": "e",
        "action": "reconcile",
        "target": {"repository": "r"},
        "reconcile": {"subject": "repository", "present": True},
    }
    with pytest.raises(InvalidEvent, match="timestamp"):
        Observation.from_event(Event.from_raw(no_time))


def test_the_reconciles_own_requests_are_told_by_their_user_agent() -> None:
    def pull(agent: str) -> Event:
        return Event.from_raw(
            {"id": "e", "action": "pull", "target": {"repository": "r"}, "request": {"useragent": agent}}
        )

    assert made_by_reconcile(pull(RECONCILE_USER_AGENT))
    assert made_by_reconcile(pull("registry-kafka-bridge-reconcile/2"))
    assert not made_by_reconcile(pull("docker/27.0"))
    assert not made_by_reconcile(pull("registry-kafka-bridge-relay/0.1"))
    assert made_by_cleanup(pull(CLEANUP_USER_AGENT)) and not made_by_reconcile(pull(CLEANUP_USER_AGENT))
    assert not made_by_cleanup(pull(RECONCILE_USER_AGENT)) and not made_by_cleanup(pull("docker/27.0"))
