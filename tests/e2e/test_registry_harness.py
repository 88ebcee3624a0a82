"""The registry harness works today, without the bridge: a real ``docker-registry`` notifies a
recording receiver while the scenario runs, and what arrived matches both what the
scenario did and the registry's own ``/debug/vars`` counters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.receiver import Delivery, RecordingReceiver
from tests.support.registry import EndpointCounters, LocalRegistry, Notifications, RegistryError
from tests.support.scenario import OPERATOR, PULLER, Pull, RegistryClient, ScenarioResult, run_scenario

TOKEN = "harness-token"
V1 = "application/vnd.docker.distribution.events.v1+json"


def _actor(event: dict[str, Any]) -> str | None:
    name = (event.get("actor") or {}).get("name")
    return name if isinstance(name, str) else None


def _by_action(events: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [e for e in events if e["action"] == action]


@dataclass(frozen=True)
class Observed:
    result: ScenarioResult
    counters: EndpointCounters
    deliveries: list[Delivery]
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
    ids = Counter(e["id"] for e in events)
    assert [i for i, n in ids.items() if n > 1] == []
    assert all(len(d.events) == 1 for d in deliveries), "distribution sends one event per POST"


def test_deliveries_carry_the_bearer_token_and_v1_content_type(session: Observed) -> None:
    counters, deliveries = session.counters, session.deliveries
    assert counters.headers == {"Authorization": [f"Bearer {TOKEN}"]}
    assert {d.headers.get("authorization") for d in deliveries} == {f"Bearer {TOKEN}"}
    assert {d.headers.get("content-type") for d in deliveries} == {V1}
    assert {d.path for d in deliveries} == {"/events"}


def test_every_pushed_manifest_was_notified(session: Observed) -> None:
    result, events = session.result, session.events
    notified = {
        (e["target"]["repository"], e["target"]["digest"], e["target"].get("tag"), _actor(e))
        for e in _by_action(events, "push")
        if e["target"].get("mediaType") != "application/octet-stream"
    }
    expected = {(p.repository, p.digest, p.tag, p.actor) for p in result.pushed}
    assert expected <= notified
    index = [
        e
        for e in _by_action(events, "push")
        if e["target"].get("tag") == "1.0" and e["target"]["repository"] == "team/multi"
    ]
    assert [e["target"]["mediaType"] for e in index] == ["application/vnd.oci.image.index.v1+json"]


def test_the_pullers_pull_events_are_exactly_the_scenarios_pulls(session: Observed) -> None:
    result, events = session.result, session.events
    seen: Counter[Pull] = Counter()
    for e in _by_action(events, "pull"):
        if _actor(e) != PULLER:
            continue
        target = e["target"]
        kind = "blob" if target.get("mediaType") == "application/octet-stream" else "manifest"
        seen[
            Pull(target["repository"], target.get("tag") or target["digest"], e["request"]["method"], kind)
        ] += 1
    assert seen == result.pulls
    assert sum(result.pulls.values()) == 9
    assert any(p.method == "HEAD" for p in result.pulls)


def test_mounts_and_deletes_were_notified_with_the_actor(session: Observed) -> None:
    result, events = session.result, session.events
    mounts = {
        (e["target"]["fromRepository"], e["target"]["repository"], e["target"]["digest"], _actor(e))
        for e in _by_action(events, "mount")
    }
    assert mounts == {(m.from_repository, m.repository, m.digest, m.actor) for m in result.mounted}
    assert len(mounts) == 2
    deletes = {
        (e["target"]["repository"], e["target"].get("digest") or e["target"].get("tag"), _actor(e))
        for e in _by_action(events, "delete")
    }
    expected = {(d.repository, d.digest, d.actor) for d in result.deleted}
    expected |= {(d.repository, tag, d.actor) for d in result.deleted for tag in d.tags}
    assert deletes == expected
    assert {actor for *_, actor in deletes} == {OPERATOR}


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
