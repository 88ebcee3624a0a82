"""The registry harness works today, without the bridge: a real ``docker-registry`` notifies a
recording receiver while the scenario runs, and what arrived matches both what the
scenario did and the registry's own ``/debug/vars`` counters.

The comparisons live in ``tests/support/expected_events.py`` so that the pipeline test applies
the very same ones to the records it reads back from Kafka.
"""

from __future__ import annotations

import copy
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.registry import Notifications
from tests.support import expected_events
from tests.support.receivers import Received, RecordingReceiver
from tests.support.registry import EndpointCounters, LocalRegistry, RegistryError
from tests.support.scenario import OPERATOR, PULLER, RegistryClient, ScenarioResult, run_scenario

TOKEN = "harness-token"
V1 = "application/vnd.docker.distribution.events.v1+json"


@dataclass(frozen=True)
class Observed:
    result: ScenarioResult
    counters: EndpointCounters
    deliveries: list[Received]
    events: list[dict[str, Any]]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    """One registry, one receiver, one scenario; the tests below read what happened."""
    workdir = tmp_path_factory.mktemp("harness")
    receiver = RecordingReceiver()
    registry = LocalRegistry(workdir / "registry", Notifications(receiver.url, TOKEN))
    with receiver, registry:
        result = run_scenario(registry, workdir / "scenario")
        counters = registry.wait_until_delivered(timeout=60)
        yield Observed(result, counters, list(receiver.deliveries), receiver.events())


def test_every_event_arrived_once_and_counters_agree(session: Observed) -> None:
    counters, deliveries, events = session.counters, session.deliveries, session.events
    assert counters.pending == 0
    assert (counters.failures, counters.errors) == (0, 0)
    assert counters.events == counters.successes == len(events) > 30
    assert counters.statuses == {"200 OK": counters.successes}
    assert expected_events.duplicate_ids(events) == []
    assert all(len(d.events) == 1 for d in deliveries), "distribution sends one event per POST"


def test_deliveries_carry_the_bearer_token_and_v1_content_type(session: Observed) -> None:
    counters, deliveries = session.counters, session.deliveries
    assert counters.headers == {"Authorization": [f"Bearer {TOKEN}"]}
    assert {d.headers.get("authorization") for d in deliveries} == {f"Bearer {TOKEN}"}
    assert {d.headers.get("content-type") for d in deliveries} == {V1}
    assert {d.path for d in deliveries} == {"/events"}


def test_the_events_tell_exactly_what_the_scenario_did(session: Observed) -> None:
    assert expected_events.scenario_differences(session.events, session.result) == []


def test_the_scenario_covers_every_kind_of_operation(session: Observed) -> None:
    result, events = session.result, session.events
    assert {p.tag for p in result.pushed if p.repository == "team/multi"} == {None, "1.0"}
    index = [
        e
        for e in expected_events.of_action(events, "push")
        if e["target"]["repository"] == "team/multi" and e["target"].get("tag") == "1.0"
    ]
    assert [e["target"]["mediaType"] for e in index] == ["application/vnd.oci.image.index.v1+json"]
    assert sum(result.pulls.values()) == 9
    assert {(p.method, p.kind) for p in result.pulls} == {
        ("GET", "manifest"),
        ("HEAD", "manifest"),
        ("GET", "blob"),
    }
    assert any(p.reference.startswith("sha256:") for p in result.pulls if p.kind == "manifest")
    assert len(result.mounted) == 2 and len(result.deleted) == 2
    assert {m.actor for m in result.mounted} | {d.actor for d in result.deleted} == {OPERATOR}
    assert set(expected_events.puller_pulls(events)) == set(result.pulls)
    assert {expected_events.actor_of(e) for e in expected_events.of_action(events, "pull")} >= {PULLER}


@pytest.mark.parametrize("tamper", ["drop-mount", "duplicate", "extra-pull", "wrong-actor", "drop-push"])
def test_the_expectations_catch_a_wrong_stream(session: Observed, tamper: str) -> None:
    """The comparisons are not vacuous: each kind of damage to the stream is reported."""
    events = copy.deepcopy(session.events)
    first = {
        a: next(i for i, e in enumerate(events) if e["action"] == a) for a in ("mount", "pull", "delete")
    }
    if tamper == "drop-mount":
        del events[first["mount"]]
    elif tamper == "duplicate":
        events.append(events[0])
    elif tamper == "extra-pull":
        puller_pull = next(
            e for e in events if e["action"] == "pull" and expected_events.actor_of(e) == PULLER
        )
        events.append({**puller_pull, "id": "extra"})
    elif tamper == "wrong-actor":
        events[first["delete"]]["actor"] = {"name": "mallory"}
    else:
        manifest_push = next(
            i
            for i, e in enumerate(events)
            if e["action"] == "push" and e["target"]["mediaType"] != expected_events.BLOB
        )
        del events[manifest_push]
    assert expected_events.scenario_differences(events, session.result) != []


def test_the_scenario_reports_the_registrys_final_catalog(session: Observed) -> None:
    result = session.result
    assert result.catalog == {
        "team/alpha": ["1.0", "latest"],
        "team/beta": ["1.0"],
        "team/gamma": [],
        "team/multi": ["1.0"],
    }
    assert {(repo, tag) for repo, tags in result.catalog.items() for tag in tags} == set(result.tag_digests)
    assert result.tag_digests[("team/alpha", "1.0")] == result.tag_digests[("team/alpha", "latest")]


def test_htpasswd_auth_is_enforced(tmp_path: Path) -> None:
    with LocalRegistry(tmp_path / "registry") as registry:
        assert httpx.get(f"{registry.url}/v2/").status_code == 401
        assert httpx.get(f"{registry.url}/v2/", auth=("alice", "wrong")).status_code == 401
        assert httpx.get(f"{registry.url}/v2/", auth=registry.credentials("alice")).status_code == 200


def test_undelivered_events_show_up_as_pending_and_errors(tmp_path: Path) -> None:
    """Nobody listens at the URL: the counters say so and waiting for delivery fails."""
    nobody = RecordingReceiver()  # its port is free and never started
    notifications = Notifications(nobody.url, TOKEN, backoff="100ms")
    with LocalRegistry(tmp_path / "registry", notifications) as registry:
        client = RegistryClient(registry, "alice")
        try:
            client.push_blob("team/none", b"one blob, one push event")
        finally:
            client.close()
        with pytest.raises(RegistryError, match="pending"):
            registry.wait_until_delivered(timeout=3, quiet=0.2)
        counters = registry.endpoint_counters()
        assert counters.pending >= 1 and counters.errors >= 1 and counters.successes == 0


def test_a_port_taken_before_the_registry_binds_it_is_retried(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        registry.port = squatter.getsockname()[1]
        with registry:
            assert registry.port != squatter.getsockname()[1]
            assert httpx.get(f"{registry.url}/v2/", auth=registry.credentials("bob")).status_code == 200
    assert "address already in use" in registry.log_tail(100)


@pytest.mark.parametrize("status", [503, 401])
def test_a_failed_answer_is_retried_with_the_same_event_id(tmp_path: Path, status: int) -> None:
    """What the bridge's deduplication and the pipeline's exactly-once check rely on: any non-2xx
    answer (a 401 too) makes the registry resend the same event, and Failures counts attempts."""
    receiver = RecordingReceiver(statuses=[status] * 3)
    notifications = Notifications(receiver.url, TOKEN, threshold=5, backoff="100ms")
    with receiver, LocalRegistry(tmp_path / "registry", notifications) as registry:
        client = RegistryClient(registry, "alice")
        try:
            client.push_blob("team/retried", b"retried until accepted")
        finally:
            client.close()
        counters = registry.wait_until_delivered(timeout=20)
    assert receiver.answered == [status, status, status, 200]
    assert len({e["id"] for d in receiver.deliveries for e in d.events}) == 1
    assert (counters.events, counters.successes, counters.failures, counters.errors) == (1, 1, 3, 0)
    assert sum(counters.statuses.values()) == 4 and counters.statuses["200 OK"] == 1
