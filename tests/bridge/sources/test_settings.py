"""The sources' settings: what each enabled kind needs, read through ``Environ``
(``_FILE`` included), and errors that name the variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bridge.settings import BridgeSettings
from bridge.sources import SourceSettings
from bridge.sources.settings import secret_variable
from common.contract import SOURCE_KINDS
from common.environ import ConfigError, Environ
from tests.support.paths import ROOT
from tests.support.sources import PushTokens


def settings(**env: str) -> SourceSettings:
    return SourceSettings.from_environ(Environ({f"REGBRIDGE_{k}": v for k, v in env.items()}))


def test_no_sources_by_default() -> None:
    bridge = BridgeSettings.from_environ(
        Environ({"REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": "k:9092", "REGBRIDGE_AUTH_TOKENS": "t"})
    )
    assert bridge.sources.kinds == () and bridge.sources.max_age == 0


def test_enabled_kinds_with_secrets_previous_secrets_and_files(tmp_path: Path) -> None:
    secret_file = tmp_path / "nexus"
    secret_file.write_text("from-a-file\n")
    s = settings(
        SOURCES="Harbor, nexus,quay",
        SOURCE_HARBOR_SECRET="Bearer a,b",
        SOURCE_HARBOR_SECRET_PREVIOUS="Bearer old",
        SOURCE_NEXUS_SECRET_FILE=str(secret_file),
        SOURCE_QUAY_SECRET="q" * 16,
        SOURCE_ID_WINDOW_SECONDS="60",
        SOURCE_MAX_AGE_SECONDS="120",
    )
    assert s.kinds == ("harbor", "nexus", "quay")
    assert s.secrets == {
        "harbor": ("Bearer a,b", "Bearer old"),
        "nexus": ("from-a-file",),
        "quay": ("q" * 16,),
    }
    assert (s.id_window, s.max_age) == (60, 120.0)
    assert "Bearer" not in repr(s)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SOURCES": "harbor,gitea"}, "REGBRIDGE_SOURCES"),
        ({"SOURCES": "zot"}, "REGBRIDGE_SOURCE_ZOT_SECRET"),
        ({"SOURCES": "dockerhub", "SOURCE_DOCKERHUB_SECRET": "short"}, "REGBRIDGE_SOURCE_DOCKERHUB_SECRET"),
        ({"SOURCES": "quay", "SOURCE_QUAY_SECRET": "has a space in it, too"}, "REGBRIDGE_SOURCE_QUAY_SECRET"),
        (
            {"SOURCES": "acr", "SOURCE_ACR_SECRET": "s", "SOURCE_ACR_HEADER": "bad header"},
            "SOURCE_ACR_HEADER",
        ),
        ({"SOURCES": "gar"}, "REGBRIDGE_SOURCE_GAR_JWKS_FILE"),
        (
            {"SOURCES": "harbor", "SOURCE_HARBOR_SECRET_FILE": "/nonexistent"},
            "REGBRIDGE_SOURCE_HARBOR_SECRET_FILE",
        ),
        ({"SOURCES": "ecr", "SOURCE_ECR_SECRET": "k", "SOURCE_ID_WINDOW_SECONDS": "0"}, "ID_WINDOW_SECONDS"),
    ],
)
def test_errors_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        settings(**env)


def test_gar_needs_a_readable_jwks_an_audience_and_emails(tmp_path: Path) -> None:
    jwks = PushTokens(tmp_path).jwks_file
    base = {"SOURCES": "gar", "SOURCE_GAR_JWKS_FILE": str(jwks)}
    with pytest.raises(ConfigError, match="REGBRIDGE_SOURCE_GAR_AUDIENCE"):
        settings(**base)
    with pytest.raises(ConfigError, match="REGBRIDGE_SOURCE_GAR_EMAILS"):
        settings(**base, SOURCE_GAR_AUDIENCE="https://b/")
    (tmp_path / "bad.json").write_text('{"keys": "no"}')
    with pytest.raises(ConfigError, match="REGBRIDGE_SOURCE_GAR_JWKS_FILE"):
        settings(
            **base | {"SOURCE_GAR_JWKS_FILE": str(tmp_path / "bad.json")},
            SOURCE_GAR_AUDIENCE="a",
            SOURCE_GAR_EMAILS="e",
        )
    ok = settings(**base, SOURCE_GAR_AUDIENCE="https://b/", SOURCE_GAR_EMAILS="a@x, b@x")
    assert ok.gar_emails == ("a@x", "b@x") and "gar" not in ok.secrets


def test_every_source_variable_is_documented() -> None:
    source = (ROOT / "bridge" / "sources" / "settings.py").read_text()
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', source))
    assert {"SOURCES", "SOURCE_GAR_JWKS_FILE", "SOURCE_GAR_AUDIENCE"} <= names
    names |= {secret_variable(kind) for kind in SOURCE_KINDS if kind != "gar"}
    names |= {
        f"{secret_variable(kind)}_{suffix}"
        for kind in SOURCE_KINDS
        if kind != "gar"
        for suffix in ("FILE", "PREVIOUS")
    }
    text = (ROOT / "docs" / "configuration.md").read_text()
    section = text.split("## Other registries", 1)[1].split("\n## ", 1)[0]
    missing = sorted(n for n in names if f"REGBRIDGE_{n}" not in section)
    assert missing == []
    for metric in (
        "regbridge_source_requests",
        "regbridge_source_auth_failures",
        "regbridge_source_quarantined",
    ):
        assert metric in text


def test_sources_doc_covers_every_kind() -> None:
    text = (ROOT / "docs" / "sources.md").read_text()
    for kind in SOURCE_KINDS:
        path = f"/sources/{kind}/events"
        assert f"`{kind}`" in text and path in text, kind
    assert "../shared" not in text
