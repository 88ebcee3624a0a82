"""When to try a webhook delivery again, and when to give up.

Exponential backoff without jitter: the wait after failed attempt ``n`` (1-based) is
``initial * multiplier ** (n - 1)``, capped at ``max_delay``. A delivery gives up when it has
made ``max_attempts`` attempts, or when the next attempt would start more than ``max_age``
seconds after the first one. Both limits always apply; the first one reached wins.
"""

from __future__ import annotations

from dataclasses import dataclass


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

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        exponent = max(0, attempt - 1)
        # cap the exponent so that huge attempt numbers cannot overflow a float
        raw = self.initial * self.multiplier ** min(exponent, 64)
        return min(raw, self.max_delay)

    def next_delay(self, attempts: int, elapsed: float, at_least: float | None = None) -> float | None:
        """The wait before the next attempt, or None to give up.

        ``attempts`` is how many attempts were made, ``elapsed`` the seconds since the first began,
        ``at_least`` what the receiver asked for (``Retry-After``), capped at ``max_delay``.
        """
        if attempts >= self.max_attempts:
            return None
        delay = max(self.delay_after(attempts), min(at_least or 0.0, self.max_delay))
        if elapsed + delay > self.max_age:
            return None
        return delay

    @property
    def longest(self) -> float:
        """An upper bound of the time one delivery may spend waiting between attempts."""
        total = 0.0
        for attempt in range(1, self.max_attempts):
            total += self.delay_after(attempt)
            if total >= self.max_age:
                return self.max_age
        return total
