"""A subscription's retry policy: the project's backoff with the relay's limits (the loop
itself is tested in tests/common/test_retry.py, and against real receivers in
test_delivery.py)."""

from __future__ import annotations

import pytest

from consumers.relay.retry import RetryPolicy


def test_backoff_doubles_then_caps() -> None:
    backoff = RetryPolicy(initial=0.5, max_delay=3, max_attempts=10, max_age=1000).backoff
    assert [backoff.delay(n) for n in range(1, 7)] == [0.5, 1, 2, 3, 3, 3]


def test_retry_after_lengthens_the_wait_up_to_the_cap() -> None:
    backoff = RetryPolicy(initial=1, max_delay=10, max_attempts=100, max_age=100).backoff
    assert backoff.delay(1, at_least=4) == 4
    assert backoff.delay(1, at_least=120) == 10
    assert backoff.delay(3, at_least=0.5) == 4


def test_longest_wait_is_bounded() -> None:
    assert RetryPolicy(initial=1, max_delay=4, max_attempts=5, max_age=100).longest == 1 + 2 + 4 + 4
    assert RetryPolicy(initial=1, max_delay=4, max_attempts=100, max_age=20).longest == 20
    assert RetryPolicy(initial=1, max_attempts=10**6, max_age=10).backoff.delay(10**6) == 30


@pytest.mark.parametrize(
    "kwargs", [{"initial": 0}, {"max_attempts": 0}, {"max_age": -1}, {"multiplier": 0.5}]
)
def test_nonsense_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
