"""The operator docs keep up with the code."""

from __future__ import annotations

import re

from common.contract import ce_type_for
from common.tls import BRIDGE_TLS
from tests.support.paths import ROOT


def test_every_bridge_variable_is_documented() -> None:
    modules = ("bridge/settings.py", "common/kafka/settings.py", "common/kafka/security.py")
    source = "".join((ROOT / name).read_text() for name in modules)
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', source)) | set(BRIDGE_TLS.names())
    assert {"KAFKA_BOOTSTRAP_SERVERS", "AUTH_TOKENS", "TOPIC_PREFIX", "MAX_BODY_BYTES"} <= names
    assert {"TLS_CERT_FILE", "KAFKA_SASL_PASSWORD", "KAFKA_SECURITY_PROTOCOL"} <= names
    text = (ROOT / "docs" / "configuration.md").read_text()
    bridge_section = text.split("## Bridge", 1)[1]
    missing = sorted(n for n in names if f"`REGBRIDGE_{n}`" not in bridge_section)
    assert missing == []
    assert "`REGBRIDGE_AUTH_TOKENS_FILE`" in bridge_section
    assert "`REGBRIDGE_KAFKA_SASL_PASSWORD_FILE`" in bridge_section
    assert (ROOT / "docs" / "security.md").exists()


def test_documented_ce_types_match_the_contract() -> None:
    text = (ROOT / "docs" / "events.md").read_text()
    for action in ("push", "pull", "mount", "delete", "rename"):
        assert f"| `{action}`" in text and f"`{ce_type_for(action)}`" in text
