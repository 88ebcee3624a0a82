"""The retention policy: a YAML file of rules per repository glob, read into a frozen
:class:`Policy` (``docs/lifecycle.md``, "Retention policy")::

    rules:
      - repositories: "team/*"          # glob (fnmatch, case-sensitive; * crosses /)
        keep_last_pushed: 2             # tagged manifests, by last push time
        keep_pulled_within_days: 30
        keep_tags: "^(latest|stable)$"  # a regex, searched in each tag
        delete_untagged_after_days: 7

The first rule whose glob matches a repository decides for it; a repository no rule
matches keeps everything. Every key but ``repositories`` is optional. Unknown keys are
errors (a misspelt ``keep_*`` key must not silently delete images), as are values of the
wrong type, a regex that does not compile and a glob that can match no repository.
Errors are a :class:`PolicyError` listing every problem, each naming the file, the line
and the field (``policy.yaml:4: rules[0].keep_tags: '(v' is not a valid regular expression: …``), read through
:mod:`consumers.yamlconfig` as the relay's subscriptions are.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from yaml.nodes import Node

from consumers.yamlconfig import (
    Fields,
    Problems,
    YamlFieldError,
    compose,
    fail,
    items_of,
    read_regex,
    read_text,
    read_whole,
)

RULE_FIELDS = (
    "repositories",
    "keep_last_pushed",
    "keep_pulled_within_days",
    "keep_tags",
    "delete_untagged_after_days",
)
POLICY_FIELDS = ("rules",)
_GLOB_TEXT = re.compile(r"^[a-z0-9._/\-*?\[\]!]+$")


class PolicyError(YamlFieldError):
    """The policy file is unreadable or malformed; the message names file, line and field."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule. ``None``: the condition is not stated. ``position`` is its index in ``rules``."""

    repositories: str
    position: int = 0
    keep_last_pushed: int | None = None
    keep_pulled_within_days: int | None = None
    keep_tags: re.Pattern[str] | None = None
    delete_untagged_after_days: int | None = None

    def matches(self, repository: str) -> bool:
        return fnmatchcase(repository, self.repositories)

    @property
    def states_keep(self) -> bool:
        """At least one ``keep_*`` condition: only then is a tagged manifest a deletion candidate."""
        conditions = (self.keep_last_pushed, self.keep_pulled_within_days, self.keep_tags)
        return any(condition is not None for condition in conditions)

    @property
    def name(self) -> str:
        """How plans and messages name the rule: ``rules[0] (team/*)``."""
        return f"rules[{self.position}] ({self.repositories})"


@dataclass(frozen=True, slots=True)
class Policy:
    rules: tuple[Rule, ...]
    source: str = "(policy)"
    sha256: str = ""  # of the file's bytes, recorded in every plan made from it

    def rule_for(self, repository: str) -> Rule | None:
        """The first rule whose glob matches, or None (the repository keeps everything)."""
        return next((rule for rule in self.rules if rule.matches(repository)), None)


def load_policy(path: Path | str) -> Policy:
    """The policy in ``path``; raises :class:`PolicyError` naming the file."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PolicyError(f"{source}: cannot read the policy file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError(f"{source}: the policy file is not UTF-8 text") from None
    return parse_policy(text, source)


def parse_policy(text: str, source: str) -> Policy:
    """The policy a YAML text states; raises :class:`PolicyError` with every problem."""
    try:
        root = compose(text, source)
        fields = Fields(root, "", source)
        rules = fields.need("rules", _read_rules)
        fields.done(POLICY_FIELDS)
    except YamlFieldError as error:
        raise PolicyError(str(error), error.problems) from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Policy(rules=rules, source=source, sha256=digest)


def _read_rules(node: Node, path: str, source: str) -> tuple[Rule, ...]:
    items = items_of(node, path, source)
    if not items:
        raise fail(source, node, path, "must list at least one rule")
    problems = Problems()
    rules: list[Rule] = []
    for position, (where, item) in enumerate(items):
        with problems.kept():
            rules.append(_read_rule(item, where, source, position))
    problems.raise_any()
    return tuple(rules)


def _read_rule(node: Node, path: str, source: str, position: int) -> Rule:
    fields = Fields(node, path, source)
    rule = Rule(
        repositories=fields.need("repositories", read_glob),
        position=position,
        keep_last_pushed=fields.get("keep_last_pushed", read_whole, None),
        keep_pulled_within_days=fields.get("keep_pulled_within_days", read_whole, None),
        keep_tags=fields.get("keep_tags", read_regex, None),
        delete_untagged_after_days=fields.get("delete_untagged_after_days", read_whole, None),
    )
    fields.done(RULE_FIELDS)
    return rule


def read_glob(node: Node, path: str, source: str) -> str:
    """A repository glob: lowercase name characters and ``* ? [...]``; a glob that could
    match no repository name (capitals, spaces, an unclosed ``[``) is an error."""
    text = read_text(node, path, source)
    if not _GLOB_TEXT.match(text):
        problem = "a repository glob has only a-z 0-9 . _ - / and * ? [ ] !"
        raise fail(source, node, path, f"{problem}, got {text!r}")
    depth = 0
    for char in text:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth not in (0, 1):
            raise fail(source, node, path, f"unbalanced [ ] in {text!r}")
    if depth:
        raise fail(source, node, path, f"unclosed [ in {text!r}")
    return text
