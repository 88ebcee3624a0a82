"""The systemd unit examples (``deploy/systemd/``) are valid units whose commands exist.

``systemd-analyze verify`` reads each unit as systemd would (unknown keys, bad values, an
``ExecStart`` that is not executable); the install path ``/opt/registry-kafka-bridge/venv``
is pointed at this environment's for the check. Each ``ExecStart`` is then run with
``--help``, so an option that does not exist fails here, and every variable of the example
environment file is a documented one."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import DOCS, ROOT

UNITS = ROOT / "deploy" / "systemd"
INSTALLED = "/opt/registry-kafka-bridge/venv/bin/"
INSTANCES = ("push", "pull", "other", "relay")


def _units(tmp_path: Path) -> list[Path]:
    """The units, with the install path pointed at this venv and the template instantiated."""
    here = str(Path(sys.executable).parent) + "/"
    found = []
    for unit in sorted(UNITS.glob("*.service")):
        text = unit.read_text().replace(INSTALLED, here)
        names = [unit.name.replace("@.", f"@{i}.") for i in INSTANCES] if "@." in unit.name else [unit.name]
        for name in names:
            (tmp_path / name).write_text(text)
            found.append(tmp_path / name)
    return found


def test_systemd_analyze_verifies_every_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (Debian package systemd)"
    units = _units(tmp_path)
    assert len(units) == 3 + len(INSTANCES)
    done = subprocess.run(
        [analyze, "verify", "--man=no", *map(str, units)], capture_output=True, text=True, timeout=120
    )
    ours = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if str(tmp_path) in line or ".service" in line
    ]
    assert done.returncode == 0 and ours == [], done.stdout + done.stderr


def _exec_start(unit: Path) -> list[str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit.read_text())
    return shlex.split(parser["Service"]["ExecStart"])


@pytest.mark.parametrize("instance", INSTANCES)
def test_the_commands_and_their_options_exist(tmp_path: Path, instance: str) -> None:
    for unit in _units(tmp_path):
        if "@" in unit.name and f"@{instance}." not in unit.name:
            continue
        argv = [part.replace("%i", instance) for part in _exec_start(unit)]
        done = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{unit.name}: {argv}: {done.stderr}"


def test_the_example_environment_names_documented_variables_only() -> None:
    documented = set(re.findall(r"`(REGBRIDGE_[A-Z0-9_]+)`", (DOCS / "configuration.md").read_text()))
    example = (UNITS / "registry-kafka-bridge.env").read_text()
    used = set(re.findall(r"^#?\s*(REGBRIDGE_[A-Z0-9_]+)=", example, re.MULTILINE))
    assert used and used <= documented, used - documented
