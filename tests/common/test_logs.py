"""The request log line: the fast path writes what the JSON formatter would."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from common.logs import LogSettings, configure_logging, flush_logs, info_line


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_info_line_matches_the_json_formatter(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging(LogSettings("INFO", "json"), buffered=True)
    log = logging.getLogger("bridge.request")
    fields = {"status": 200, "event_ids": ["a"], "ms": 0.5}
    info_line(log, "POST /events", fields)
    log.info("POST /events", extra={"fields": fields})
    flush_logs()
    fast, slow = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert fast.keys() == slow.keys()
    assert fast["ts"][:16] == slow["ts"][:16] and len(fast["ts"]) == len(slow["ts"])
    assert {k: v for k, v in fast.items() if k != "ts"} == {k: v for k, v in slow.items() if k != "ts"}


def test_info_line_respects_the_level(capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    configure_logging(LogSettings("WARNING", "json"), buffered=True)
    info_line(logging.getLogger("bridge.request"), "POST /events", {"status": 200})
    flush_logs()
    assert capsys.readouterr().out == ""


def test_console_format_goes_through_logging(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging(LogSettings("INFO", "console"), buffered=True)
    info_line(logging.getLogger("bridge.request"), "POST /events", {"status": 200})
    flush_logs()
    assert "POST /events status=200" in capsys.readouterr().out
