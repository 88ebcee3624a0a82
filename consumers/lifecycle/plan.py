"""What a retention policy would delete, and why everything else is kept: :func:`make_plan`,
pure over the store's facts (``docs/lifecycle.md``, "Retention policy").

Per repository, the first rule of the policy whose glob matches decides; without one, the
repository keeps everything. For each live manifest:

* a manifest with parents (an index's child, an artifact whose subject is live) is kept
  while any parent is kept; once every parent goes it is judged like any other;
* a tagged manifest is kept when the rule states no ``keep_*`` condition (a rule without
  one deletes no tagged manifest), else when a condition holds, checked in this order:
  ``keep_last_pushed`` (the N tagged manifests of the repository last pushed; untagged ones
  do not count), ``keep_pulled_within_days``, ``keep_tags`` (searched in each tag);
* an untagged manifest is kept when pulled within ``keep_pulled_within_days`` (a digest
  still in use), and deleted only when the rule has ``delete_untagged_after_days`` and it
  was last pushed longer ago than that.

A kept manifest's reason names the first condition that held; a deleted one's says why
none did. Deleting a manifest removes every tag on it: the entry lists them. Deletions
are ordered parents first, so an interrupted apply never leaves an index without children.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from consumers.lifecycle.model import ManifestFacts
from consumers.lifecycle.policy import Policy, Rule

Key = tuple[str, str]  # (repository, digest)
Freed = Callable[[Sequence[Key]], Mapping[Key, int]]


@dataclass(frozen=True, slots=True)
class Deletion:
    repository: str
    digest: str
    tags: tuple[str, ...]
    reason: str
    bytes_freed: int
    last_pushed_at: datetime
    media_type: str | None
    rule: str | None  # the deciding rule's glob


@dataclass(frozen=True, slots=True)
class Kept:
    repository: str
    digest: str
    tags: tuple[str, ...]
    reason: str
    rule: str | None  # None: no rule matches the repository


@dataclass(frozen=True, slots=True)
class Plan:
    created_at: datetime
    policy_source: str
    policy_sha256: str
    delete: tuple[Deletion, ...]
    keep: tuple[Kept, ...]
    bytes_freed: int


@dataclass(frozen=True, slots=True)
class Verdict:
    keep: bool
    reason: str


def make_plan(policy: Policy, facts: Sequence[ManifestFacts], freed: Freed, now: datetime) -> Plan:
    """The plan ``policy`` makes of ``facts`` (every live manifest) at ``now``; ``freed``
    is :meth:`BlobGraph.freed <consumers.lifecycle.storage.BlobGraph.freed>`."""
    by_repository: dict[str, list[ManifestFacts]] = defaultdict(list)
    for fact in facts:
        by_repository[fact.repository].append(fact)
    verdicts: dict[Key, tuple[ManifestFacts, Verdict, Rule | None, int]] = {}
    for repository in sorted(by_repository):
        rule = policy.rule_for(repository)
        judge = RepositoryJudge(rule, by_repository[repository], now)
        for fact in by_repository[repository]:
            verdict, depth = judge.verdict(fact.digest)
            verdicts[(repository, fact.digest)] = (fact, verdict, rule, depth)
    doomed = sorted(
        (key for key, (_, verdict, _, _) in verdicts.items() if not verdict.keep),
        key=lambda key: (verdicts[key][3], key),
    )
    sizes = freed(doomed) if doomed else {}
    delete = tuple(_deletion(*verdicts[key][:3], sizes.get(key, 0)) for key in doomed)
    keep = tuple(
        Kept(fact.repository, fact.digest, fact.tags, verdict.reason, _glob(rule))
        for key, (fact, verdict, rule, _) in sorted(verdicts.items())
        if verdict.keep
    )
    return Plan(
        created_at=now,
        policy_source=policy.source,
        policy_sha256=policy.sha256,
        delete=delete,
        keep=keep,
        bytes_freed=sum(entry.bytes_freed for entry in delete),
    )


def _glob(rule: Rule | None) -> str | None:
    return rule.repositories if rule is not None else None


def _deletion(fact: ManifestFacts, verdict: Verdict, rule: Rule | None, freed: int) -> Deletion:
    return Deletion(
        repository=fact.repository,
        digest=fact.digest,
        tags=fact.tags,
        reason=verdict.reason,
        bytes_freed=freed,
        last_pushed_at=fact.last_pushed_at,
        media_type=fact.media_type,
        rule=_glob(rule),
    )


def day(moment: datetime) -> str:
    return moment.date().isoformat()


class RepositoryJudge:
    """The verdicts of one repository's manifests under one rule (or none)."""

    def __init__(self, rule: Rule | None, facts: Sequence[ManifestFacts], now: datetime) -> None:
        self.rule, self.now = rule, now
        self.facts = {fact.digest: fact for fact in facts}
        tagged = sorted(
            (f for f in facts if f.tags), key=lambda f: (f.last_pushed_at, f.digest), reverse=True
        )
        last = rule.keep_last_pushed if rule is not None and rule.keep_last_pushed is not None else 0
        self.recent = {fact.digest for fact in tagged[:last]}
        self._done: dict[str, tuple[Verdict, int]] = {}
        self._open: set[str] = set()

    def verdict(self, digest: str) -> tuple[Verdict, int]:
        """The verdict on ``digest`` and its depth (0: no parent deleted with it)."""
        if digest in self._done:
            return self._done[digest]
        if digest in self._open:  # a cycle of parents: nothing can be decided safely
            return Verdict(True, "its parents refer to each other"), 0
        self._open.add(digest)
        found = self._decide(self.facts[digest])
        self._open.discard(digest)
        self._done[digest] = found
        return found

    def _decide(self, fact: ManifestFacts) -> tuple[Verdict, int]:
        depth = 0
        for parent in fact.parents:
            if parent not in self.facts:
                return Verdict(True, f"child of {parent} (not among the live manifests)"), 0
            verdict, parent_depth = self.verdict(parent)
            if verdict.keep:
                return Verdict(True, self._held_by(parent)), 0
            depth = max(depth, parent_depth + 1)
        return self._own(fact), depth

    def _held_by(self, parent: str) -> str:
        if self.facts[parent].kind == "index":
            return f"child of index {parent}"
        return f"refers to {parent} (its subject)"

    def _own(self, fact: ManifestFacts) -> Verdict:
        rule = self.rule
        if rule is None:
            return Verdict(True, "no rule matches the repository")
        if fact.tags:
            return self._tagged(rule, fact)
        return self._untagged(rule, fact)

    def _pulled(self, rule: Rule, fact: ManifestFacts) -> str | None:
        days, pulled = rule.keep_pulled_within_days, fact.last_pulled_at
        if days is not None and pulled is not None and pulled >= self.now - timedelta(days=days):
            return f"pulled {day(pulled)} (within {days} days)"
        return None

    def _tagged(self, rule: Rule, fact: ManifestFacts) -> Verdict:
        if not rule.states_keep:
            return Verdict(True, f"tagged, and {rule.name} states no keep_* condition")
        if fact.digest in self.recent:
            return Verdict(True, f"among the last {rule.keep_last_pushed} pushed")
        pulled = self._pulled(rule, fact)
        if pulled:
            return Verdict(True, pulled)
        if rule.keep_tags is not None:
            for tag in fact.tags:
                if rule.keep_tags.search(tag):
                    return Verdict(True, f"tag {tag} matches keep_tags")
        return Verdict(False, self._why_tagged(rule, fact))

    def _why_tagged(self, rule: Rule, fact: ManifestFacts) -> str:
        why = []
        if rule.keep_last_pushed is not None:
            why.append(f"not among the last {rule.keep_last_pushed} pushed")
        if rule.keep_pulled_within_days is not None:
            pulled = fact.last_pulled_at
            when = f"last pulled {day(pulled)}" if pulled is not None else "never pulled"
            why.append(f"{when} (not within {rule.keep_pulled_within_days} days)")
        if rule.keep_tags is not None:
            why.append("no tag matches keep_tags")
        return f"{rule.name}: " + ", ".join(why)

    def _untagged(self, rule: Rule, fact: ManifestFacts) -> Verdict:
        pulled = self._pulled(rule, fact)
        if pulled:
            return Verdict(True, pulled)
        days = rule.delete_untagged_after_days
        if days is None:
            return Verdict(True, f"untagged, and {rule.name} has no delete_untagged_after_days")
        if fact.last_pushed_at >= self.now - timedelta(days=days):
            return Verdict(True, f"untagged, younger than {days} days")
        return Verdict(
            False, f"{rule.name}: untagged, last pushed {day(fact.last_pushed_at)} (over {days} days ago)"
        )
