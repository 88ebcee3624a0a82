"""What the consumers' store must hold, compared with what a scenario or a load did and
with the registry's own view. Each comparison returns the differences as readable lines
(empty when everything matches), so a failing test says what is wrong, and a tampered
snapshot proves each comparison can fail.

After a scenario run (``store`` is a snapshot: table name → rows as dicts,
``tests.support.pipeline.read_store``): :func:`inventory_differences`,
:func:`pull_differences`, :func:`audit_differences`.

After a fault test, from the distinct event ids that reached each handler's topic
(:func:`store_differences`):

* ``processed_events``: exactly the distinct event ids of the handler's topic (a
  duplicate is processed once);
* ``tags``: every tag the load pushed, with its digest;
* ``pull_clients``: the puller's GETs and HEADs of manifests and blobs per repository,
  exactly as many as the load made (a duplicate pull event counted twice would show).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from common.contract import TopicRouter
from tests.support.consumers import wait_for
from tests.support.database import read_table
from tests.support.expected_events import BLOB, Event, actor_of, of_action
from tests.support.kafka import Landed
from tests.support.pipeline import HANDLERS
from tests.support.scenario import PULLER, Pull, ScenarioResult

Store = Mapping[str, Sequence[Mapping[str, Any]]]
PullCounters = dict[str, int]
COUNTERS = ("manifest_gets", "manifest_heads", "blob_gets", "blob_heads")


def _diff(name: str, expected: Any, got: Any) -> list[str]:
    if expected == got:
        return []
    if isinstance(expected, Mapping) and isinstance(got, Mapping):
        wrong = {
            k: (expected.get(k), got.get(k))
            for k in set(expected) | set(got)
            if expected.get(k) != got.get(k)
        }
        return [f"{name}: (expected, stored) differ for {dict(sorted(wrong.items(), key=str))}"]
    return [
        f"{name}: missing {sorted(expected - got, key=str)}, unexpected {sorted(got - expected, key=str)}"
    ]


def _absent(value: Any) -> Any:
    """The store writes ``''`` or NULL for an absent value; the registry 3.x sends ``''``."""
    return value or None


def inventory_differences(store: Store, result: ScenarioResult) -> list[str]:
    """Live tags equal the registry's catalog and tag lists (with the pushed digests), the
    repositories equal its catalog, and the live manifests are those pushed and not deleted."""
    tags = {(r["repository"], r["tag"]): r["digest"] for r in store["tags"] if r["deleted_at"] is None}
    catalog_tags = {(repo, tag) for repo, listed in result.catalog.items() for tag in listed}
    problems = _diff("live tags vs the registry's tag lists", catalog_tags, set(tags))
    problems += _diff("tag digests", result.tag_digests, tags)
    repositories = {r["name"] for r in store["repositories"]}
    problems += _diff("repositories vs the registry's catalog", set(result.catalog), repositories)
    live = {(r["repository"], r["digest"]) for r in store["manifests"] if r["deleted_at"] is None}
    deleted = {(d.repository, d.digest) for d in result.deleted}
    pushed = {(p.repository, p.digest) for p in result.pushed}
    return problems + _diff("live manifests", pushed - deleted, live)


def _counter_name(kind: str, method: str) -> str:
    return f"{kind}_{'heads' if method == 'HEAD' else 'gets'}"


def _add(table: dict[Any, PullCounters], key: Any, counter: str, n: int) -> None:
    table.setdefault(key, dict.fromkeys(COUNTERS, 0))[counter] += n


def _summed(rows: Iterable[Mapping[str, Any]], *key: str) -> dict[Any, PullCounters]:
    """The per-minute rows summed over minutes, per ``key`` columns."""
    table: dict[Any, PullCounters] = {}
    for row in rows:
        for counter in COUNTERS:
            _add(table, tuple(row[k] for k in key), counter, int(row[counter]))
    return table


def _pull_of(event: Event) -> Pull:
    target = event["target"]
    kind = "blob" if target.get("mediaType") == BLOB else "manifest"
    return Pull(target["repository"], target.get("tag") or target["digest"], event["request"]["method"], kind)


def pull_differences(store: Store, result: ScenarioResult, events: Sequence[Event]) -> list[str]:
    """The puller's counts per repository (``pull_clients``) are exactly what the scenario
    pulled; per (repository, reference) (``pulls``) they are the scenario's pulls plus the
    pulls other users made as a side effect of pushing and copying (read from the events)."""
    by_client: dict[Any, PullCounters] = {}
    by_reference: dict[Any, PullCounters] = {}
    for pull, n in result.pulls.items():
        _add(by_client, (pull.repository,), _counter_name(pull.kind, pull.method), n)
        _add(by_reference, (pull.repository, pull.reference), _counter_name(pull.kind, pull.method), n)
    for event in of_action(events, "pull"):
        if actor_of(event) != PULLER:
            pull = _pull_of(event)
            _add(by_reference, (pull.repository, pull.reference), _counter_name(pull.kind, pull.method), 1)
    puller_rows = [r for r in store["pull_clients"] if r["actor"] == PULLER]
    problems = _diff("the puller's pulls per repository", by_client, _summed(puller_rows, "repository"))
    return problems + _diff(
        "pulls per reference", by_reference, _summed(store["pulls"], "repository", "reference")
    )


def audit_differences(store: Store, result: ScenarioResult) -> list[str]:
    """One audit row per manifest delete, per tag deleted with it, and per mounted blob, each
    with the actor who did it; nothing else."""
    expected: Counter[tuple[Any, ...]] = Counter()
    for d in result.deleted:
        expected[("delete", d.repository, None, d.digest, None, d.actor)] += 1
        for tag in d.tags:
            expected[("delete", d.repository, tag, None, None, d.actor)] += 1
    for m in result.mounted:
        expected[("mount", m.repository, None, m.digest, m.from_repository, m.actor)] += 1
    got: Counter[tuple[Any, ...]] = Counter()
    for row in store["audit_log"]:
        tag = _absent(row["tag"])
        # a tag delete names the tag; the registry may add the digest it pointed at (3.x: '')
        digest = None if tag else _absent(row["digest"])
        got[
            (row["action"], row["repository"], tag, digest, _absent(row["from_repository"]), row["actor"])
        ] += 1
    return _diff("audit rows", expected, got)


def ids_by_handler(records: list[Landed], prefix: str) -> dict[str, set[str]]:
    router = TopicRouter(prefix=prefix)
    return {
        handler: {r.headers["event-id"].decode() for r in records if r.topic == router.handler_topic(handler)}
        for handler in HANDLERS
    }


async def processed(url: str) -> dict[str, set[str]]:
    try:
        rows = await read_table(url, "processed_events")
    except Exception:  # the schema is not there yet, or the store is away
        return {}
    found: dict[str, set[str]] = {h: set() for h in HANDLERS}
    for row in rows:
        found.setdefault(row["handler"], set()).add(row["event_id"])
    return found


async def wait_processed(url: str, expected: dict[str, set[str]], within: float = 120.0) -> float:
    """Until ``processed_events`` holds ``expected``; returns the seconds it took (the
    caller compares again, so a timeout shows the difference)."""
    started = time.monotonic()
    await wait_for(lambda: processed(url), lambda found: found == expected, within=within, every=0.3)
    return time.monotonic() - started


async def store_differences(url: str, expected_ids: dict[str, set[str]], result: ScenarioResult) -> list[str]:
    problems = []
    got_ids = await processed(url)
    for handler in HANDLERS:
        missing = expected_ids[handler] - got_ids.get(handler, set())
        extra = got_ids.get(handler, set()) - expected_ids[handler]
        if missing or extra:
            problems.append(f"processed_events[{handler}]: {len(missing)} missing, {len(extra)} unexpected")
    tags = {
        (r["repository"], r["tag"]): r["digest"] for r in await read_table(url, "tags") if not r["deleted_at"]
    }
    if tags != result.tag_digests:
        problems.append(f"tags: expected {len(result.tag_digests)}, got {len(tags)}")
    pulls: Counter[str] = Counter()
    for row in await read_table(url, "pull_clients", f"actor = '{PULLER}'"):
        pulls[row["repository"]] += sum(int(row[c]) for c in COUNTERS)
    expected_pulls: Counter[str] = Counter()
    for pull, n in result.pulls.items():
        expected_pulls[pull.repository] += n
    if pulls != expected_pulls:
        problems.append(f"pulls by {PULLER}: expected {dict(expected_pulls)}, got {dict(pulls)}")
    return problems
