"""When to try a webhook delivery again, and when to give up: a subscription's ``retry:``.

Waits follow the project's backoff (:class:`common.retry.Backoff`): ``initial * multiplier
** (n - 1)`` after failed attempt ``n``, capped at ``max_delay``, and never shorter than a
``Retry-After`` the receiver sent (up to ``max_delay``). A delivery gives up when it has
made ``max_attempts`` attempts, or when the next attempt would start more than ``max_age``
seconds after the first one; the first limit reached wins (:func:`common.retry.retry`).
"""

from __future__ import annotations

from dataclasses import dataclass

from common.retry import Backoff


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial: float = 0.5
    max_delay: float = 30.0
    max_attempts: int = 8
    max_age: float = 600.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.max_delay <= 0 or self.max_age <= 0:
            raise ValueError("retry delays and max_age must be more than zero")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")

    @property
    def backoff(self) -> Backoff:
        return Backoff(initial=self.initial, maximum=self.max_delay, multiplier=self.multiplier)

    @property
    def longest(self) -> float:
        """An upper bound of the time one delivery may spend waiting between attempts."""
        total = 0.0
        for attempt in range(1, self.max_attempts):
            total += self.backoff.ceiling(attempt)
            if total >= self.max_age:
                return self.max_age
        return total
