"""The reconcile's settings are documented where operators look for them."""

from __future__ import annotations

import re

from tests.support.paths import ROOT


def test_every_reconcile_variable_is_documented() -> None:
    modules = ("consumers/reconcile/settings.py", "consumers/registry_api/settings.py")
    source = "".join((ROOT / name).read_text() for name in modules)
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', source))
    assert {"REGISTRY_URL", "REGISTRY_PASSWORD", "RECONCILE_CONCURRENCY", "RECONCILE_MAX_RPS"} <= names
    configuration = (ROOT / "docs" / "configuration.md").read_text()
    section = configuration.split("## Reconcile", 1)[1].split("\n## ", 1)[0]
    guide = (ROOT / "docs" / "reconcile.md").read_text()
    for text in (section, guide):
        assert sorted(n for n in names if f"`REGBRIDGE_{n}`" not in text) == []
