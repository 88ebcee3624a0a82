"""The spool's settings: REGBRIDGE_SPOOL_DIR and REGBRIDGE_SPOOL_MAX_BYTES, in the bridge
and in ``make run``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bridge.settings import BridgeSettings
from bridge.spool.journal import SpoolSettings
from common.environ import ConfigError, Environ
from devstack.ports import DevPorts
from devstack.stack import DevStack, dev_processes, dev_spool_dir
from tests.support.paths import ROOT

ANONYMOUS = {"REGBRIDGE_ALLOW_ANONYMOUS": "true", "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": "k:9092"}


def test_settings_from_the_environment(tmp_path: Path) -> None:
    on = SpoolSettings.from_environ(
        Environ({"REGBRIDGE_SPOOL_DIR": str(tmp_path), "REGBRIDGE_SPOOL_MAX_BYTES": "1048576"})
    )
    assert (on.directory, on.max_bytes) == (tmp_path, 1048576)
    off = SpoolSettings.from_environ(Environ({"REGBRIDGE_SPOOL_DIR": ""}))
    assert off.directory is None
    assert off.max_bytes == 256 * 1024 * 1024


def test_the_bridge_settings_carry_the_spool(tmp_path: Path) -> None:
    env = {**ANONYMOUS, "REGBRIDGE_SPOOL_DIR": str(tmp_path)}
    assert BridgeSettings.from_environ(Environ(env)).spool.directory == tmp_path
    assert BridgeSettings.from_environ(Environ(ANONYMOUS)).spool.directory is None


def test_a_tiny_cap_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="REGBRIDGE_SPOOL_MAX_BYTES"):
        SpoolSettings.from_environ(Environ({"REGBRIDGE_SPOOL_MAX_BYTES": "100"}))


def test_a_spool_smaller_than_two_bodies_is_refused(tmp_path: Path) -> None:
    env = {
        **ANONYMOUS,
        "REGBRIDGE_SPOOL_DIR": str(tmp_path),
        "REGBRIDGE_SPOOL_MAX_BYTES": str(1024 * 1024),
    }
    with pytest.raises(ConfigError, match="REGBRIDGE_SPOOL_MAX_BYTES=1048576 must be at least twice"):
        BridgeSettings.from_environ(Environ(env))
    env["REGBRIDGE_MAX_BODY_BYTES"] = str(512 * 1024)
    assert BridgeSettings.from_environ(Environ(env)).spool.max_bytes == 1024 * 1024


def test_make_run_spools_to_var_spool_unless_told_otherwise() -> None:
    var = Path("var")
    assert dev_spool_dir(Environ({}), var) == str(Path("var/spool").resolve())
    assert dev_spool_dir(Environ({"REGBRIDGE_SPOOL_DIR": ""}), var) == ""
    assert dev_spool_dir(Environ({"REGBRIDGE_SPOOL_DIR": "/srv/spool"}), var) == "/srv/spool"
    stack = DevStack("127.0.0.1:9092", "token", "127.0.0.1", DevPorts(), spool_dir="/srv/spool")
    (bridge,) = [spec for spec in dev_processes(stack) if spec.name == "bridge"]
    assert bridge.env["REGBRIDGE_SPOOL_DIR"] == "/srv/spool"


def test_the_spool_variables_and_metrics_are_documented() -> None:
    root = ROOT
    section = (root / "docs" / "configuration.md").read_text().split("## Spool", 1)[1]
    source = (root / "bridge" / "spool" / "journal.py").read_text()
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', source))
    assert names == {"SPOOL_DIR", "SPOOL_MAX_BYTES"}
    assert all(f"`REGBRIDGE_{name}`" in section for name in names)
    metrics = set(re.findall(r'"(regbridge_spool_\w+)"', (root / "bridge" / "spool" / "gate.py").read_text()))
    assert len(metrics) == 10
    counters = {"regbridge_spool_appended", "regbridge_spool_refused", "regbridge_spool_drained",
                "regbridge_spool_drain_failures", "regbridge_spool_rejected"}  # fmt: skip
    documented = {m + "_total" if m in counters else m for m in metrics}
    assert sorted(m for m in documented if f"`{m}`" not in section) == []
