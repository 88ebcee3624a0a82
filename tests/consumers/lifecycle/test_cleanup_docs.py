"""The retention policy and the cleanup are documented where operators look: every policy key,
the cleanup's variable, the three sections of ``docs/lifecycle.md``, the changelog."""

from __future__ import annotations

import re

from consumers.lifecycle.policy import RULE_FIELDS
from tests.support.paths import DOCS, ROOT


def test_the_policy_the_commands_and_the_variable_are_documented() -> None:
    modules = ("consumers/lifecycle/command.py", "consumers/lifecycle/settings.py")
    source = "".join((ROOT / name).read_text() for name in modules)
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', source))
    assert names == {"CLEANUP_MAX_RPS", "DATABASE_URL"}
    section = (DOCS / "configuration.md").read_text().split("## Cleanup", 1)[1].split("\n## ", 1)[0]
    assert "`REGBRIDGE_CLEANUP_MAX_RPS`" in section and "REGBRIDGE_REGISTRY_URL" in section
    guide = (DOCS / "lifecycle.md").read_text()
    for heading in (
        "## Retention policy",
        "## cleanup plan and apply",
        "## The registry's garbage collection",
    ):
        assert f"\n{heading}\n" in guide
    keys = guide.split("### Keys", 1)[1].split("\n### ", 1)[0]
    assert [key for key in RULE_FIELDS if f"| `{key}` |" not in keys] == []
    for needed in (
        "405",
        "REGISTRY_STORAGE_DELETE_ENABLED=true",
        "--delete-untagged",
        "already_gone",
        "--yes",
    ):
        assert needed in guide, needed
    unreleased = (ROOT / "CHANGELOG.md").read_text().split("## Unreleased", 1)[1].split("\n## ", 1)[0]
    assert "registry-consumer cleanup apply" in unreleased and "REGBRIDGE_CLEANUP_MAX_RPS" in unreleased
