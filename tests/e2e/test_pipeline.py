"""End to end, as an operator runs it: a real ``docker-registry`` (htpasswd auth, notifications
with the bearer token) → ``registry-bridge serve`` → Kafka (the session broker) → the three
``registry-consumer run push|pull|other`` processes → the store, on SQLite and on PostgreSQL.

One scenario per store (``tests/support/scenario.py``: pushes with several tags and an OCI
index, pulls by tag and by digest and HEAD, a cross-repository copy that mounts, deletes by
digest) drives the registry; the tests then compare what landed in Kafka with the registry's
``/debug/vars`` counters, and what landed in the store with the registry's catalog and with
what the scenario did. The comparisons live in ``tests/support/expected_store.py``, and
the last test proves each of them reports a damaged store.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from common.contract import TopicRouter
from tests.support import expected_events, expected_store
from tests.support.broker import BrokerUnderTest
from tests.support.database import create_database, drop_database, postgres_server
from tests.support.kafka import Landed, consume
from tests.support.pipeline import (
    HANDLERS,
    read_store,
    records_per_handler,
    running_pipeline,
    wait_for_store,
)
from tests.support.registry import EndpointCounters
from tests.support.scenario import OPERATOR, ScenarioResult, run_scenario

pytestmark = pytest.mark.kafka


@dataclass(frozen=True)
class Observed:
    result: ScenarioResult
    counters: EndpointCounters
    records: list[Landed]
    router: TopicRouter
    store: dict[str, list[dict[str, Any]]]
    persisted: dict[str, int]
    dead: dict[str, str]

    @property
    def events(self) -> list[dict[str, Any]]:
        return [orjson.loads(r.value) for r in self.records]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('store') / 'store.db'}"
        return
    with postgres_server() as admin:
        url = asyncio.run(create_database(admin))
        try:
            yield url
        finally:
            asyncio.run(drop_database(admin, url))


def _observe(workdir: Path, bootstrap: str, database_url: str) -> Observed:
    prefix = f"t{uuid.uuid4().hex[:12]}.registry.events"
    with running_pipeline(workdir, bootstrap, prefix, database_url) as pipeline:
        result = run_scenario(pipeline.registry, workdir / "scenario")
        counters = pipeline.registry.wait_until_delivered(timeout=120)
        topics = [pipeline.router.handler_topic(h) for h in HANDLERS]
        records = asyncio.run(consume(bootstrap, topics, expect=counters.successes, within=60, settle=2.0))
        persisted = wait_for_store(pipeline, records_per_handler(pipeline.router, records))
        store = read_store(database_url)
        dead = pipeline.dead()
    return Observed(result, counters, records, pipeline.router, store, persisted, dead)


@pytest.fixture(scope="module")
def observed(
    broker: BrokerUnderTest, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Observed:
    return _observe(tmp_path_factory.mktemp("pipeline"), broker.bootstrap_servers, database_url)


def test_every_process_stayed_up_and_every_record_was_persisted(observed: Observed) -> None:
    assert observed.dead == {}
    assert observed.persisted == records_per_handler(observed.router, observed.records)


def test_every_event_reached_kafka_exactly_once(observed: Observed) -> None:
    counters = observed.counters
    assert counters.pending == 0
    assert counters.events == counters.successes > 30, counters
    ids = Counter(r.headers["event-id"].decode() for r in observed.records)
    assert len(ids) == counters.events, "every event the registry generated is in Kafka"
    assert [i for i, n in ids.items() if n > 1] == [], "and only once"
    for record in observed.records:
        event = orjson.loads(record.value)
        assert record.headers["event-id"].decode() == event["id"]
        assert record.topic == observed.router.topic_for(event["action"])
        assert record.key == event["target"]["repository"].encode()
    assert expected_events.scenario_differences(observed.events, observed.result) == []


def test_the_inventory_equals_the_registrys_catalog_and_tags(observed: Observed) -> None:
    assert expected_store.inventory_differences(observed.store, observed.result) == []


def test_the_pull_counts_match_what_was_pulled(observed: Observed) -> None:
    differences = expected_store.pull_differences(observed.store, observed.result, observed.events)
    assert differences == []


def test_the_audit_log_has_the_deletes_and_mounts_with_their_actor(observed: Observed) -> None:
    assert expected_store.audit_differences(observed.store, observed.result) == []
    assert {row["actor"] for row in observed.store["audit_log"]} == {OPERATOR}
    assert {row["action"] for row in observed.store["audit_log"]} == {"delete", "mount"}


def _tamper(store: dict[str, list[dict[str, Any]]], damage: str) -> None:
    if damage == "lost-tag":
        next(r for r in store["tags"] if r["deleted_at"] is None)["deleted_at"] = "2026-01-01"
    elif damage == "wrong-digest":
        next(r for r in store["tags"] if r["deleted_at"] is None)["digest"] = "sha256:" + "0" * 64
    elif damage == "extra-repository":
        store["repositories"].append({**store["repositories"][0], "name": "team/ghost"})
    elif damage == "undeleted-manifest":
        next(r for r in store["manifests"] if r["deleted_at"] is not None)["deleted_at"] = None
    elif damage == "double-pull":
        row = next(r for r in store["pull_clients"] if r["actor"] == "bob")
        row["manifest_gets"] += 1
    elif damage == "head-as-get":
        row = next(r for r in store["pulls"] if r["manifest_heads"])
        row["manifest_heads"], row["manifest_gets"] = row["manifest_heads"] - 1, row["manifest_gets"] + 1
    elif damage == "wrong-actor":
        store["audit_log"][0]["actor"] = "mallory"
    else:
        store["audit_log"].pop()


@pytest.mark.parametrize(
    ("damage", "check"),
    [
        ("lost-tag", "inventory"),
        ("wrong-digest", "inventory"),
        ("extra-repository", "inventory"),
        ("undeleted-manifest", "inventory"),
        ("double-pull", "pulls"),
        ("head-as-get", "pulls"),
        ("wrong-actor", "audit"),
        ("lost-audit-row", "audit"),
    ],
)
def test_the_store_comparisons_catch_a_damaged_store(observed: Observed, damage: str, check: str) -> None:
    store = copy.deepcopy(observed.store)
    _tamper(store, damage)
    differences = {
        "inventory": lambda: expected_store.inventory_differences(store, observed.result),
        "pulls": lambda: expected_store.pull_differences(store, observed.result, observed.events),
        "audit": lambda: expected_store.audit_differences(store, observed.result),
    }[check]()
    assert differences != []
