"""The retention policy file: a good file reads into rules; every mistake names its line and
field, all of them at once, and a typo never reads as a missing (so permissive) condition."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from common.environ import ConfigError
from consumers.lifecycle.policy import Policy, PolicyError, Rule, load_policy, parse_policy

GOOD = """\
rules:
  - repositories: "team/*"
    keep_last_pushed: 2
    keep_pulled_within_days: 30
    keep_tags: "^(latest|stable)$"
    delete_untagged_after_days: 7
  - repositories: "sandbox/**"
    delete_untagged_after_days: 0
  - repositories: "*"
"""


def errors(text: str) -> str:
    with pytest.raises(PolicyError) as caught:
        parse_policy(textwrap.dedent(text), "policy.yaml")
    return str(caught.value)


def test_a_complete_file_reads_into_rules(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD)
    policy = load_policy(path)
    team, sandbox, rest = policy.rules
    assert team.repositories == "team/*" and team.position == 0
    assert (team.keep_last_pushed, team.keep_pulled_within_days, team.delete_untagged_after_days) == (
        2,
        30,
        7,
    )
    assert team.keep_tags is not None and team.keep_tags.pattern == "^(latest|stable)$"
    assert sandbox == Rule("sandbox/**", position=1, delete_untagged_after_days=0)
    assert rest == Rule("*", position=2)
    assert policy.source == str(path) and len(policy.sha256) == 64
    assert team.states_keep and not sandbox.states_keep and not rest.states_keep
    assert team.name == "rules[0] (team/*)"


def test_the_first_matching_rule_decides_and_an_unmatched_repository_has_none() -> None:
    policy = parse_policy("rules: [{repositories: 'team/a*'}, {repositories: 'team/*'}]", "p")
    assert policy.rule_for("team/alpha") is policy.rules[0]
    assert policy.rule_for("team/beta") is policy.rules[1]
    assert policy.rule_for("team/x/deep") is policy.rules[1], "* crosses /, as in fnmatch"
    assert policy.rule_for("other/alpha") is None
    assert Policy(rules=()).rule_for("x") is None


def test_the_digest_changes_with_the_text() -> None:
    one = parse_policy("rules: [{repositories: a}]", "p")
    two = parse_policy("rules: [{repositories: b}]", "p")
    assert one.sha256 != two.sha256


def test_bad_yaml_names_its_line() -> None:
    message = errors(
        """\
        rules:
          - repositories: "team/*"
            keep_tags: [unclosed
        """
    )
    assert message == "policy.yaml:4: not valid YAML: expected ',' or ']', but got '<stream end>'"
    assert errors("rules:\n  - repositories: a\n   bad: indent\n").startswith("policy.yaml:3: not valid YAML")


def test_an_empty_file_and_a_missing_rules_key_are_errors() -> None:
    assert errors("") == "policy.yaml:1: the file is empty"
    assert errors("other: 1\n").splitlines() == [
        "policy.yaml:1: rules: is required",
        "policy.yaml:1: other: unknown field (known: rules)",
    ]
    assert (
        errors("rule: []\n")
        == "policy.yaml:1: rule: unknown field; did you mean 'rules'? (rules is required)"
    )
    assert errors("rules: []\n") == "policy.yaml:1: rules: must list at least one rule"
    assert errors("rules: {repositories: a}\n") == "policy.yaml:1: rules: must be a list"
    assert errors("- 1\n") == "policy.yaml:1: (top level): must be a mapping of field: value"


def test_an_unknown_key_is_an_error_naming_the_nearest_known_one() -> None:
    message = errors(
        """\
        rules:
          - repositories: "team/*"
            keep_last_pushd: 2
        """
    )
    assert (
        message == "policy.yaml:3: rules[0].keep_last_pushd: unknown field; did you mean 'keep_last_pushed'?"
    )
    message = errors("rules:\n  - repositories: a\n    colour: blue\n")
    assert message.startswith(
        "policy.yaml:3: rules[0].colour: unknown field (known: repositories, keep_last_pushed"
    )


def test_wrong_types_are_named_each_on_its_line() -> None:
    message = errors(
        """\
        rules:
          - repositories: "team/*"
            keep_last_pushed: -1
            keep_pulled_within_days: "thirty"
          - repositories: "b/*"
            delete_untagged_after_days: true
            keep_tags: [a, b]
        """
    )
    assert message.splitlines() == [
        "policy.yaml:3: rules[0].keep_last_pushed: must be a whole number of at least 0, got '-1'",
        "policy.yaml:4: rules[0].keep_pulled_within_days: must be a whole number of at least 0, got 'thirty'",
        "policy.yaml:6: rules[1].delete_untagged_after_days: must be a whole number of at least 0, "
        "got 'true'",
        "policy.yaml:7: rules[1].keep_tags: must be a single value, not a list or mapping",
    ]


def test_a_bad_regex_names_its_line_and_field() -> None:
    message = errors("rules:\n  - repositories: a\n    keep_tags: '^(latest'\n")
    assert message.startswith(
        "policy.yaml:3: rules[0].keep_tags: '^(latest' is not a valid regular expression: missing ), "
        "unterminated"
    )


@pytest.mark.parametrize(
    ("glob", "problem"),
    [
        ("Team/*", "a repository glob has only a-z 0-9 . _ - / and * ? [ ] !, got 'Team/*'"),
        ("team /*", "a repository glob has only a-z 0-9 . _ - / and * ? [ ] !, got 'team /*'"),
        ("team/[ab", "unclosed [ in 'team/[ab'"),
        ("team/a]", "unbalanced [ ] in 'team/a]'"),
        ("''", "must not be empty"),
    ],
)
def test_a_bad_glob_names_its_line_and_field(glob: str, problem: str) -> None:
    assert errors(f"rules:\n  - keep_last_pushed: 1\n    repositories: {glob}\n") == (
        f"policy.yaml:3: rules[0].repositories: {problem}"
    )


def test_a_rule_without_repositories_is_an_error() -> None:
    assert errors("rules:\n  - keep_last_pushed: 1\n") == "policy.yaml:2: rules[0].repositories: is required"
    assert errors("rules:\n  - repository: a\n") == (
        "policy.yaml:2: rules[0].repository: unknown field; did you mean 'repositories'? "
        "(repositories is required)"
    )


def test_an_unreadable_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing.yaml: cannot read the policy file: No such file"):
        load_policy(tmp_path / "missing.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe rules")
    with pytest.raises(PolicyError, match=r"binary.yaml: the policy file is not UTF-8 text"):
        load_policy(binary)
