"""The plan, as pure logic over facts built here (the store-backed path is tested against a
real registry in ``test_cleanup.py``): each keep condition and its reason, the first rule
deciding, untagged manifests, children kept with their parents, no rule, bytes freed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from consumers.lifecycle.model import ManifestFacts
from consumers.lifecycle.plan import Plan, make_plan
from consumers.lifecycle.policy import Policy, parse_policy

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def digest(name: str) -> str:
    return "sha256:" + name.encode().hex().ljust(64, "0")


def fact(
    name: str,
    *tags: str,
    repository: str = "team/app",
    pushed_days_ago: float = 100,
    pulled_days_ago: float | None = None,
    parents: Sequence[str] = (),
    kind: str = "image",
) -> ManifestFacts:
    pushed = NOW - timedelta(days=pushed_days_ago)
    pulled = NOW - timedelta(days=pulled_days_ago) if pulled_days_ago is not None else None
    return ManifestFacts(
        repository=repository,
        digest=digest(name),
        media_type="application/vnd.oci.image.manifest.v1+json",
        kind=kind,
        tags=tuple(sorted(tags)),
        first_pushed_at=pushed,
        last_pushed_at=pushed,
        pushed_by="alice",
        last_get_at=pulled,
        last_head_at=None,
        parents=tuple(digest(p) for p in parents),
        size=100,
    )


def sizes(deleted: Sequence[tuple[str, str]]) -> Mapping[tuple[str, str], int]:
    return {key: 10 * (n + 1) for n, key in enumerate(deleted)}


def plan(policy_text: str, *facts: ManifestFacts) -> Plan:
    return make_plan(parse_policy(policy_text, "policy.yaml"), facts, sizes, NOW)


def reasons(made: Plan) -> dict[str, tuple[str, str]]:
    """digest name → (action, reason)."""
    found = {d.digest: ("delete", d.reason) for d in made.delete}
    found |= {k.digest: ("keep", k.reason) for k in made.keep}
    return {bytes.fromhex(key[7:].rstrip("0")).decode(): value for key, value in found.items()}


RULE = "rules:\n  - repositories: 'team/*'\n"


def test_keep_last_pushed_counts_tagged_manifests_by_last_push() -> None:
    made = plan(
        RULE + "    keep_last_pushed: 2\n",
        fact("new", "3", pushed_days_ago=1),
        fact("mid", "2", pushed_days_ago=5),
        fact("old", "1", pushed_days_ago=9),
        fact("untagged", pushed_days_ago=0),
    )
    assert reasons(made) == {
        "new": ("keep", "among the last 2 pushed"),
        "mid": ("keep", "among the last 2 pushed"),
        "old": ("delete", "rules[0] (team/*): not among the last 2 pushed"),
        "untagged": ("keep", "untagged, and rules[0] (team/*) has no delete_untagged_after_days"),
    }
    (deleted,) = made.delete
    assert deleted.tags == ("1",) and deleted.rule == "team/*" and deleted.bytes_freed == 10
    assert deleted.last_pushed_at == NOW - timedelta(days=9) and deleted.media_type is not None
    assert made.bytes_freed == 10 and made.created_at == NOW
    assert made.policy_source == "policy.yaml" and len(made.policy_sha256) == 64


def test_keep_pulled_within_days_by_last_pull() -> None:
    made = plan(
        RULE + "    keep_pulled_within_days: 30\n",
        fact("recent", "a", pulled_days_ago=11),
        fact("edge", "b", pulled_days_ago=30),
        fact("stale", "c", pulled_days_ago=31),
        fact("never", "d"),
    )
    assert reasons(made) == {
        "recent": ("keep", "pulled 2026-11-20 (within 30 days)"),
        "edge": ("keep", "pulled 2026-11-01 (within 30 days)"),
        "stale": ("delete", "rules[0] (team/*): last pulled 2026-10-31 (not within 30 days)"),
        "never": ("delete", "rules[0] (team/*): never pulled (not within 30 days)"),
    }


def test_keep_tags_is_searched_in_every_tag() -> None:
    made = plan(
        RULE + "    keep_tags: '^(latest|stable)$'\n",
        fact("a", "1.0", "stable"),
        fact("b", "latest-rc"),
    )
    assert reasons(made) == {
        "a": ("keep", "tag stable matches keep_tags"),
        "b": ("delete", "rules[0] (team/*): no tag matches keep_tags"),
    }


def test_the_reason_names_the_first_condition_that_held_and_a_deletion_names_all() -> None:
    policy = RULE + "    keep_last_pushed: 1\n    keep_pulled_within_days: 7\n    keep_tags: '^latest$'\n"
    made = plan(
        policy,
        fact("newest", "latest", pushed_days_ago=1, pulled_days_ago=1),
        fact("pulled", "latest-1", pushed_days_ago=2, pulled_days_ago=1),
        fact("tagged", "v1", "latest", pushed_days_ago=3),
        fact("none", "v0", pushed_days_ago=4, pulled_days_ago=20),
    )
    assert reasons(made) == {
        "newest": ("keep", "among the last 1 pushed"),
        "pulled": ("keep", "pulled 2026-11-30 (within 7 days)"),
        "tagged": ("keep", "tag latest matches keep_tags"),
        "none": (
            "delete",
            "rules[0] (team/*): not among the last 1 pushed, last pulled 2026-11-11 (not within 7 days), "
            "no tag matches keep_tags",
        ),
    }


def test_a_rule_with_no_keep_condition_keeps_tagged_manifests() -> None:
    made = plan(RULE + "    delete_untagged_after_days: 7\n", fact("a", "1.0"), fact("u"))
    assert reasons(made) == {
        "a": ("keep", "tagged, and rules[0] (team/*) states no keep_* condition"),
        "u": ("delete", "rules[0] (team/*): untagged, last pushed 2026-08-23 (over 7 days ago)"),
    }


def test_untagged_manifests_go_only_after_delete_untagged_after_days() -> None:
    made = plan(
        RULE
        + "    keep_last_pushed: 0\n    keep_pulled_within_days: 30\n    delete_untagged_after_days: 7\n",
        fact("young", pushed_days_ago=6),
        fact("old", pushed_days_ago=8),
        fact("old-but-pulled", pushed_days_ago=80, pulled_days_ago=2),
        fact("tagged-old", "x", pushed_days_ago=80),
    )
    assert reasons(made) == {
        "young": ("keep", "untagged, younger than 7 days"),
        "old": ("delete", "rules[0] (team/*): untagged, last pushed 2026-11-23 (over 7 days ago)"),
        "old-but-pulled": ("keep", "pulled 2026-11-29 (within 30 days)"),
        "tagged-old": (
            "delete",
            "rules[0] (team/*): not among the last 0 pushed, never pulled (not within 30 days)",
        ),
    }


def test_children_are_kept_with_their_parent_and_judged_alone_once_it_goes() -> None:
    policy = RULE + "    keep_tags: '^keep$'\n    delete_untagged_after_days: 7\n"
    made = plan(
        policy,
        fact("index", "keep", kind="index"),
        fact("child", parents=["index"]),
        fact("signature", parents=["child"], kind="other"),
        fact("gone-index", "old", kind="index"),
        fact("orphan", parents=["gone-index"]),
        fact("young-orphan", parents=["gone-index"], pushed_days_ago=1),
        fact("lost", parents=["not-live"]),
    )
    assert reasons(made) == {
        "index": ("keep", "tag keep matches keep_tags"),
        "child": ("keep", f"child of index {digest('index')}"),
        "signature": ("keep", f"refers to {digest('child')} (its subject)"),
        "gone-index": ("delete", "rules[0] (team/*): no tag matches keep_tags"),
        "orphan": ("delete", "rules[0] (team/*): untagged, last pushed 2026-08-23 (over 7 days ago)"),
        "young-orphan": ("keep", "untagged, younger than 7 days"),
        "lost": ("keep", f"child of {digest('not-live')} (not among the live manifests)"),
    }
    assert [d.digest for d in made.delete] == [digest("gone-index"), digest("orphan")], "parents first"


def test_a_cycle_of_parents_keeps_its_members() -> None:
    made = plan(
        RULE + "    delete_untagged_after_days: 0\n", fact("a", parents=["b"]), fact("b", parents=["a"])
    )
    assert {action for action, _ in reasons(made).values()} == {"keep"}


def test_the_first_matching_rule_decides_and_no_rule_keeps_everything() -> None:
    policy = "rules:\n  - repositories: 'team/keep*'\n  - repositories: 'team/*'\n    keep_last_pushed: 0\n"
    made = plan(
        policy,
        fact("kept", "1", repository="team/keepers"),
        fact("gone", "1", repository="team/app"),
        fact("free", "1", repository="other/app"),
        fact("free-untagged", repository="other/app"),
    )
    assert reasons(made) == {
        "kept": ("keep", "tagged, and rules[0] (team/keep*) states no keep_* condition"),
        "gone": ("delete", "rules[1] (team/*): not among the last 0 pushed"),
        "free": ("keep", "no rule matches the repository"),
        "free-untagged": ("keep", "no rule matches the repository"),
    }
    assert {k.rule for k in made.keep} == {"team/keep*", None}


def test_keep_last_pushed_is_per_repository() -> None:
    made = plan(
        RULE + "    keep_last_pushed: 1\n",
        fact("a1", "1", repository="team/a", pushed_days_ago=1),
        fact("a2", "2", repository="team/a", pushed_days_ago=2),
        fact("b1", "1", repository="team/b", pushed_days_ago=3),
    )
    assert [(d.repository, d.digest) for d in made.delete] == [("team/a", digest("a2"))]


def test_bytes_freed_come_from_the_blob_graph_for_the_whole_deletion_set() -> None:
    asked: list[Sequence[tuple[str, str]]] = []

    def freed(deleted: Sequence[tuple[str, str]]) -> Mapping[tuple[str, str], int]:
        asked.append(list(deleted))
        return {deleted[0]: 500}

    made = make_plan(
        Policy(rules=parse_policy(RULE + "    keep_last_pushed: 0\n", "p").rules),
        [fact("a", "1"), fact("b", "2")],
        freed,
        NOW,
    )
    assert asked == [[("team/app", digest("a")), ("team/app", digest("b"))]], "one call, every deletion"
    assert [d.bytes_freed for d in made.delete] == [500, 0] and made.bytes_freed == 500


def test_nothing_to_delete_asks_the_graph_nothing() -> None:
    def freed(deleted: Sequence[tuple[str, str]]) -> Mapping[tuple[str, str], int]:
        raise AssertionError("not called")

    made = make_plan(parse_policy("rules: [{repositories: x}]", "p"), [fact("a", "1")], freed, NOW)
    assert made.delete == () and made.bytes_freed == 0 and len(made.keep) == 1
