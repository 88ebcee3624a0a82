"""The lifecycle's facts, storage and its variable are documented where operators look."""

from __future__ import annotations

import re

from tests.support.paths import DOCS, ROOT


def test_every_consumer_variable_is_documented_and_the_exclusion_explained() -> None:
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', (ROOT / "consumers" / "settings.py").read_text()))
    assert "LIFECYCLE_IGNORE_USERAGENTS" in names
    section = (DOCS / "configuration.md").read_text().split("## Consumers", 1)[1].split("\n## ", 1)[0]
    assert sorted(n for n in names if f"`REGBRIDGE_{n}`" not in section) == []
    guide = (DOCS / "lifecycle.md").read_text()
    for heading in ("## Facts per tag and manifest", "## Storage", "### User agents that are not real use"):
        assert f"\n{heading}\n" in guide
    assert "`REGBRIDGE_LIFECYCLE_IGNORE_USERAGENTS`" in guide and "not retroactive" in guide
    assert (
        "lifecycle" in (ROOT / "CHANGELOG.md").read_text().split("## Unreleased", 1)[1].split("\n## ", 1)[0]
    )
