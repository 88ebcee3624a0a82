"""Operators can read a spool and a quarantined tail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge.cli import main as cli
from bridge.spool.inspection import main
from bridge.spool.journal import Spool
from tests.support.spooled import record


def test_inspect_lists_records_and_the_quarantined_tail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spool = Spool.open(tmp_path)
    spool.append([record(1, "a/b"), record(2, "a/b")])
    spool.append([record(3, "c/d")])
    spool.close()
    (segment,) = tmp_path.glob("*.seg")
    data = segment.read_bytes()
    segment.write_bytes(data[:-10])  # tear the last group
    recovered = Spool.open(tmp_path)
    assert len(recovered.report.quarantined) == 1
    assert main([str(tmp_path)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kept = [line for line in lines if "seq" in line]
    assert [(x["seq"], x["group"], x["key"], x["headers"]["event-id"]) for x in kept] == [
        (1, "1/2", "a/b", "ev-1"),
        (2, "2/2", "a/b", "ev-2"),
    ]
    (damaged,) = [line for line in lines if "damaged_bytes" in line]
    assert "quarantine" in damaged["file"]
    assert damaged["damaged_bytes"] == len(data) - 10 - segment.stat().st_size


def test_inspect_without_arguments_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "bridge.spool.inspection" in capsys.readouterr().err


def test_the_cli_subcommand_reads_a_spool(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path)
    spool.append([record(7, "x/y")])
    spool.close()
    result = CliRunner().invoke(cli, ["spool-inspect", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["headers"]["event-id"] == "ev-7"
