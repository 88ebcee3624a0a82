"""What the events of a scenario run must contain, whoever carried them (the recording
receiver today, Kafka records in the pipeline test). Each function compares the event
objects, as the registry sent them, with the :class:`ScenarioResult` and returns the
differences as readable lines (empty when everything matches)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tests.support.scenario import PULLER, Pull, ScenarioResult

BLOB = "application/octet-stream"
Event = Mapping[str, Any]


def actor_of(event: Event) -> str | None:
    name = (event.get("actor") or {}).get("name")
    return name if isinstance(name, str) else None


def of_action(events: Iterable[Event], action: str) -> list[Event]:
    return [e for e in events if e.get("action") == action]


def duplicate_ids(events: Iterable[Event]) -> list[str]:
    counts = Counter(str(e.get("id")) for e in events)
    return sorted(i for i, n in counts.items() if n > 1)


def _diff(name: str, expected: Counter[Any] | set[Any], got: Counter[Any] | set[Any]) -> list[str]:
    if expected == got:
        return []
    if isinstance(expected, Counter) and isinstance(got, Counter):
        missing, extra = expected - got, got - expected
        return [f"{name}: missing {dict(missing)}, unexpected {dict(extra)}"]
    return [
        f"{name}: missing {sorted(set(expected) - set(got))}, unexpected {sorted(set(got) - set(expected))}"
    ]


def missing_pushes(events: Iterable[Event], result: ScenarioResult) -> list[str]:
    """Every manifest the scenario pushed has a push event (repository, digest, tag, actor)."""
    notified = {
        (e["target"]["repository"], e["target"].get("digest"), e["target"].get("tag"), actor_of(e))
        for e in of_action(events, "push")
        if e["target"].get("mediaType") != BLOB
    }
    expected = {(p.repository, p.digest, p.tag, p.actor) for p in result.pushed}
    lost = sorted(expected - notified, key=str)
    return [f"push events missing for {lost}"] if lost else []


def puller_pulls(events: Iterable[Event]) -> Counter[Pull]:
    """The pull events of the puller, as :class:`Pull` keys (reference: tag, else digest)."""
    seen: Counter[Pull] = Counter()
    for e in of_action(events, "pull"):
        if actor_of(e) != PULLER:
            continue
        target = e["target"]
        kind = "blob" if target.get("mediaType") == BLOB else "manifest"
        reference = target.get("tag") or target["digest"]
        seen[Pull(target["repository"], reference, e["request"]["method"], kind)] += 1
    return seen


def pull_differences(events: Iterable[Event], result: ScenarioResult) -> list[str]:
    return _diff("puller's pulls", result.pulls, puller_pulls(events))


def mount_differences(events: Iterable[Event], result: ScenarioResult) -> list[str]:
    got = {
        (e["target"]["fromRepository"], e["target"]["repository"], e["target"]["digest"], actor_of(e))
        for e in of_action(events, "mount")
    }
    expected = {(m.from_repository, m.repository, m.digest, m.actor) for m in result.mounted}
    return _diff("mounts", expected, got)


def delete_differences(events: Iterable[Event], result: ScenarioResult) -> list[str]:
    """One delete per manifest (by digest) and one per tag that pointed at it, with the actor."""
    got = {
        (e["target"]["repository"], e["target"].get("digest") or e["target"].get("tag"), actor_of(e))
        for e in of_action(events, "delete")
    }
    expected = {(d.repository, d.digest, d.actor) for d in result.deleted}
    expected |= {(d.repository, tag, d.actor) for d in result.deleted for tag in d.tags}
    return _diff("deletes", expected, got)


def scenario_differences(events: Sequence[Event], result: ScenarioResult) -> list[str]:
    """Everything above, plus duplicate ids: the empty list means the events tell the scenario."""
    problems = [f"duplicate event ids {duplicate_ids(events)}"] if duplicate_ids(events) else []
    for check in (missing_pushes, pull_differences, mount_differences, delete_differences):
        problems += check(events, result)
    return problems
