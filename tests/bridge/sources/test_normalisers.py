"""Every sample of every other registry normalises into the expected event fields (pure,
no HTTP), and the rules the samples alone do not show: untagged pushes, Quay's multi-tag
split, stable synthesised ids, receive-time stamps, non-image events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bridge.sources import KINDS
from bridge.sources.model import Normalised, SourceRequest, Unusable
from common.contract import SOURCE_KINDS, Event, TopicRouter, encode_event
from tests.support.sources import SAMPLES, Sample, sample

NOW = datetime(2026, 3, 14, 12, 0, 0, 123456, tzinfo=UTC)
FIELDS = ("action", "repository", "tag", "digest", "media_type", "size", "actor")


def request_of(
    item: Sample, body: str | None = None, *, at: datetime = NOW, headers: dict[str, str] | None = None
) -> SourceRequest:
    lowered = {name.lower(): value for name, value in item.headers.items()}
    lowered.update({name.replace("_", "-"): value for name, value in (headers or {}).items()})
    raw = (item.body if body is None else body).encode()
    return SourceRequest(item.source, "POST", lowered, raw, at, None)


def normalise(
    item: Sample, body: str | None = None, *, at: datetime = NOW, headers: dict[str, str] | None = None
) -> Normalised:
    return KINDS[item.source].normalise(request_of(item, body, at=at, headers=headers))


def events_of(item: Sample, body: str | None = None, at: datetime = NOW) -> list[Event]:
    return [Event.from_raw(raw) for raw in normalise(item, body, at=at).events]


def same_instant(expected: str, got: str | None) -> bool:
    return got is not None and datetime.fromisoformat(expected) == datetime.fromisoformat(got)


def test_every_kind_has_a_normaliser_and_a_sample() -> None:
    assert tuple(KINDS) == SOURCE_KINDS
    assert {s.source for s in SAMPLES} == set(SOURCE_KINDS)


@pytest.mark.parametrize("item", [s for s in SAMPLES if s.is_image_event], ids=lambda s: s.name)
def test_sample_gives_the_expected_events(item: Sample) -> None:
    events = events_of(item)
    assert len(events) == len(item.expected)
    for event, expected in zip(events, item.expected, strict=True):
        got = {name: getattr(event, name) for name in FIELDS}
        assert got == {name: expected[name] for name in FIELDS}
        assert event.source_kind == item.source
        if expected["timestamp"] is None:
            assert same_instant(NOW.isoformat(), event.timestamp)  # stamped on receipt
        else:
            assert same_instant(expected["timestamp"], event.timestamp)
            assert event.timestamp is not None and event.timestamp.endswith("Z")
        if expected["id"] is not None:
            assert event.id == expected["id"]
        assert event.raw["source"]["payload"] == json.loads(item.body)  # the original, kept
        assert encode_event(event, TopicRouter("t")).value  # encodable as a record


@pytest.mark.parametrize("item", [s for s in SAMPLES if s.is_image_event], ids=lambda s: s.name)
def test_ids_are_stable_for_a_retry_and_distinct_per_event(item: Sample) -> None:
    first = [e.id for e in events_of(item)]
    retried = [e.id for e in events_of(item, at=NOW + timedelta(seconds=30))]
    assert first == retried
    others = [other for other in SAMPLES if other is not item and other.is_image_event]
    assert not set(first) & {e.id for other in others for e in events_of(other)}


def test_synthesised_ids_of_content_only_senders_change_with_the_window() -> None:
    """Quay, Artifactory and unwrapped Pub/Sub carry no time: a retry within the window is
    the same event, the same content an hour later a new one (a re-push of the tag)."""
    for item in (sample("quay-repo-push", "push"), sample("artifactory-docker", "push")):
        assert events_of(item)[0].id != events_of(item, at=NOW + timedelta(hours=1))[0].id


def test_quay_splits_a_multi_tag_push_into_one_event_per_tag() -> None:
    item = sample("quay-repo-push", "push")
    body = json.loads(item.body) | {"updated_tags": ["1.4.2", "latest", "1.4"]}
    events = events_of(item, json.dumps(body))
    assert [e.tag for e in events] == ["1.4.2", "latest", "1.4"]
    assert {e.repository for e in events} == {"team/app"} and len({e.id for e in events}) == 3
    assert all(e.action == "push" and e.digest is None for e in events)


def test_harbor_untagged_push_puts_the_digest_in_the_tag_field() -> None:
    item = sample("harbor-default", "push")
    body = json.loads(item.body)
    resource = body["event_data"]["resources"][0]
    resource["tag"] = resource["digest"]
    (event,) = events_of(item, json.dumps(body))
    assert event.tag is None and event.digest == resource["digest"] and event.action == "push"


def test_harbor_default_with_two_resources_gives_two_events() -> None:
    item = sample("harbor-cloudevents", "push")
    body = json.loads(item.body)
    first = body["data"]["resources"][0]
    body["data"]["resources"].append(dict(first, tag="latest"))
    events = events_of(item, json.dumps(body))
    assert [e.tag for e in events] == ["2.0.1", "latest"] and len({e.id for e in events}) == 2


def test_sender_cloudevents_type_is_kept() -> None:
    assert events_of(sample("harbor-cloudevents", "push"))[0].source_type == "harbor.artifact.pushed"
    assert events_of(sample("zot-cloudevents-binary", "push"))[0].source_type == "zotregistry.image.updated"
    pushed = events_of(sample("acr-eventgrid-cloudevents", "push"))[0]
    assert pushed.source_type == "Microsoft.ContainerRegistry.ImagePushed"
    assert events_of(sample("harbor-default", "push"))[0].source_type is None


def test_zot_repository_created_keeps_its_own_action() -> None:
    item = sample("zot-cloudevents-binary", "push")
    data = {"name": "team/new", "actor": {"name": "alice"}}
    result = KINDS["zot"].normalise(
        request_of(
            item, json.dumps(data), headers={"ce_type": "zotregistry.repository.created", "ce_id": "r-1"}
        )
    )
    (event,) = (Event.from_raw(raw) for raw in result.events)
    assert (event.action, event.repository, event.id) == ("repository_created", "team/new", "r-1")


def test_registry_package_zero_time_is_stamped_on_receipt() -> None:
    (event,) = events_of(sample("github-registry-package", "push"))
    assert event.timestamp is not None and same_instant(NOW.isoformat(), event.timestamp)


@pytest.mark.parametrize(
    ("item", "headers", "body"),
    [
        (sample("github-package", "push"), {"x_github_event": "ping"}, '{"zen": "x", "hook_id": 1}'),
        (sample("acr-webhook", "push"), {}, '{"id": "p", "action": "ping", "target": {}}'),
        (sample("ecr-eventbridge-api-destination", "push"), {}, None),
        (sample("nexus-repository-component", "push"), {"x_nexus_webhook_id": "rm:repository:asset"}, None),
        (sample("artifactory-docker", "push"), {}, '{"domain": "artifact", "event_type": "deployed"}'),
        (
            sample("quay-repo-push", "push"),
            {},
            '{"repository": "t/a", "docker_url": "q.io/t/a", "build_id": 1}',
        ),
        (sample("gar-pubsub-push", "push"), {}, '{"action": "UPDATE", "tag": "h.dev/p/r/i:1"}'),
    ],
    ids=["github-ping", "acr-ping", "ecr-scan", "nexus-asset", "artifactory", "quay-build", "gar-update"],
)
def test_understood_non_image_deliveries_are_ignored(
    item: Sample, headers: dict[str, str], body: Any
) -> None:
    if item.source == "ecr":
        body = json.dumps(json.loads(item.body) | {"detail-type": "ECR Image Scan"})
    result = normalise(item, body, headers=headers)
    assert result.ignored and not result.events


@pytest.mark.parametrize("kind", SOURCE_KINDS)
@pytest.mark.parametrize("body", ["", "not json", "[]", "{}", "null", '{"a": [1, 2]}', "[" * 300 + "]" * 300])
def test_payloads_that_cannot_be_normalised_say_why(kind: str, body: str) -> None:
    item = next(s for s in SAMPLES if s.source == kind and s.is_image_event)
    headers = {"ce_type": "zotregistry.image.updated"} if kind == "zot" else {}
    try:
        result = normalise(item, body, headers=headers)
    except Unusable as exc:
        assert str(exc)
    else:
        assert result.ignored and not result.events


def test_eventgrid_validation_is_answered_with_its_code() -> None:
    item = sample("eventgrid-subscription-validation", "subscription_validation")
    reply = KINDS["acr"].handshake(request_of(item))  # type: ignore[misc]
    assert reply is not None and reply.status == 200
    code = json.loads(item.body)[0]["data"]["validationCode"]
    assert json.loads(reply.body) == {"validationResponse": code}
    assert KINDS["acr"].handshake(request_of(sample("acr-webhook", "push"))) is None  # type: ignore[misc]
