"""How a pass shows it is moving, on stderr (stdout is for the final JSON line): a progress bar
on a terminal (click's, with the counts so far; the catalog is streamed, so there is no
total), otherwise one log line every ``every`` seconds."""

from __future__ import annotations

import itertools
import logging
import sys
import time
from typing import Any, TextIO

import click

from consumers.reconcile.summary import PassSummary

log = logging.getLogger("consumers.reconcile")


def _counts(summary: PassSummary) -> dict[str, Any]:
    return {
        "repositories": summary.repositories,
        "tags": summary.tags,
        "manifests_fetched": summary.manifests_fetched,
        "repairs": sum(summary.repairs.values()),
        "errors": sum(summary.errors.values()),
    }


class Progress:
    """``advance`` after every repository; ``done`` at the end."""

    def __init__(self, stream: TextIO | None = None, every: float = 10.0, bar: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.every = every
        self._last = time.monotonic()
        self._bar: Any = None
        if self.stream.isatty() if bar is None else bar:
            # no length: an endless iterable makes click draw a moving bar with the position
            self._bar = click.progressbar(
                itertools.count(), label="reconcile", file=self.stream, show_pos=True, item_show_func=str
            )
            self._bar.__enter__()

    def advance(self, summary: PassSummary, repository: str) -> None:
        if self._bar is not None:
            counts = _counts(summary)
            text = f"{repository} · {counts['tags']} tags · {counts['repairs']} repairs"
            self._bar.update(1, text)
            return
        if time.monotonic() - self._last >= self.every:
            self._last = time.monotonic()
            log.info("reconcile progress", extra={"fields": _counts(summary) | {"at": repository}})

    def done(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def quiet_progress() -> Progress:
    """For the long-running process: a log line a minute, never a bar (its stderr is shared)."""
    return Progress(every=60.0, bar=False)
