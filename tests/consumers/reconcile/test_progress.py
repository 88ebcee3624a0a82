"""Progress on stderr: a bar on a terminal (click's), a log line every so often otherwise."""

from __future__ import annotations

import io
import logging
from datetime import datetime

import pytest

from consumers.reconcile.progress import Progress
from consumers.reconcile.summary import PassSummary


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_the_counts() -> None:
    stream = Terminal()
    progress = Progress(stream)
    summary = PassSummary("p", "once", "http://r", datetime(2026, 12, 1))
    summary.tags, summary.repositories = 40, 3
    progress.advance(summary, "team/a")
    progress.done()
    assert "reconcile" in stream.getvalue() and "team/a · 40 tags · 0 repairs" in stream.getvalue()


def test_elsewhere_a_log_line_now_and_then(caplog: pytest.LogCaptureFixture) -> None:
    progress = Progress(io.StringIO(), every=0.0)
    summary = PassSummary("p", "once", "http://r", datetime(2026, 12, 1))
    with caplog.at_level(logging.INFO, logger="consumers.reconcile"):
        progress.advance(summary, "team/a")
    assert [r.getMessage() for r in caplog.records] == ["reconcile progress"]
