"""The process runner the end-to-end suite uses for the bridge and the consumers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from devstack.ports import free_port, port_open
from tests.support.processes import ProcessFailed, ServiceProcess


def test_starts_waits_until_ready_and_stops(tmp_path: Path) -> None:
    port = free_port()
    server = ServiceProcess(
        "http-server",
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        env={},
        log_dir=tmp_path,
        ready_url=f"http://127.0.0.1:{port}/",
    )
    with server:
        assert server.running and port_open("127.0.0.1", port)
    assert not server.running and not port_open("127.0.0.1", port)
    assert server.returncode() is not None


def test_an_early_exit_fails_with_the_log(tmp_path: Path) -> None:
    crashing = ServiceProcess(
        "crashing",
        [sys.executable, "-c", "import sys; print('no broker configured'); sys.exit(3)"],
        env={},
        log_dir=tmp_path,
        ready_url=f"http://127.0.0.1:{free_port()}/",
    )
    with pytest.raises(ProcessFailed, match=r"exited \(3\)[\s\S]*no broker configured"):
        crashing.start(timeout=10)


def test_environment_reaches_the_process(tmp_path: Path) -> None:
    probe = ServiceProcess(
        "env-probe",
        [sys.executable, "-c", "import os; print(os.environ['REGBRIDGE_TOPIC_PREFIX'])"],
        env={"REGBRIDGE_TOPIC_PREFIX": "probe.prefix"},
        log_dir=tmp_path,
    )
    probe.start()
    assert probe.wait(timeout=10) == 0
    assert probe.log_tail() == "probe.prefix"


def test_inherited_regbridge_variables_do_not_leak_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator's own REGBRIDGE_* settings must not reach a test's processes."""
    monkeypatch.setenv("REGBRIDGE_DATABASE_URL", "postgresql://operator/production")
    probe = ServiceProcess(
        "leak-probe",
        [sys.executable, "-c", "import os; print(os.environ.get('REGBRIDGE_DATABASE_URL', 'absent'))"],
        env={},
        log_dir=tmp_path,
    )
    probe.start()
    assert probe.wait(timeout=10) == 0
    assert probe.log_tail() == "absent"
