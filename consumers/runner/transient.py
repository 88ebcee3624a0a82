"""Retrying what fails for a while (the database is down, the broker blinked) without
moving the position: :class:`TransientRetry`, on the project's one retry loop
(:func:`common.retry.retry`). Which errors are transient: :func:`consumers.errors.is_transient`.

Every retry is counted (``regbridge_consumer_failed_total{kind="transient"}``), logged,
and counts as progress for ``/healthz`` (a process that retries is alive, not stale). A
stop request cuts the wait short with :class:`~consumers.errors.Interrupted`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from common.retry import Backoff, Retrying, retry
from consumers.errors import is_transient
from consumers.metrics import ConsumerMetrics
from consumers.runner.stop import StopRequest

T = TypeVar("T")
log = logging.getLogger("consumers.runner")


class TransientRetry:
    def __init__(self, backoff: Backoff, stop: StopRequest, metrics: ConsumerMetrics) -> None:
        self.backoff, self.stop, self.metrics = backoff, stop, metrics
        self.last_attempt = time.monotonic()

    async def __call__(self, what: str, action: Callable[[], Awaitable[T]]) -> T:
        """``action()``, retried while it raises transient errors; others propagate."""

        def on_retry(attempt: Retrying) -> None:
            self.last_attempt = time.monotonic()
            self.metrics.failed("transient")
            fields = {"attempt": attempt.attempt, "retry_in_s": round(attempt.delay, 3)}
            log.warning(
                f"{what} failed, retrying", extra={"fields": fields | {"error": str(attempt.error)[:300]}}
            )

        return await retry(
            action, self.backoff, retry_on=is_transient, on_retry=on_retry, sleep=self.stop.pause
        )
