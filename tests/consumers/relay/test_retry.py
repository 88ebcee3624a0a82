"""Backoff doubles up to its cap; the attempt and age limits end it, whichever comes first."""

from __future__ import annotations

import pytest

from consumers.relay.retry import RetryPolicy


def test_backoff_doubles_then_caps() -> None:
    policy = RetryPolicy(initial=0.5, max_delay=3, max_attempts=10, max_age=1000)
    assert [policy.delay_after(n) for n in range(1, 7)] == [0.5, 1, 2, 3, 3, 3]


def test_attempts_limit() -> None:
    policy = RetryPolicy(initial=1, max_delay=10, max_attempts=3, max_age=1000)
    assert policy.next_delay(1, 0) == 1
    assert policy.next_delay(2, 1) == 2
    assert policy.next_delay(3, 3) is None


def test_age_limit() -> None:
    policy = RetryPolicy(initial=1, max_delay=10, max_attempts=100, max_age=5)
    assert policy.next_delay(2, 2.9) == 2
    assert policy.next_delay(2, 3.1) is None


def test_retry_after_lengthens_the_wait_up_to_the_cap() -> None:
    policy = RetryPolicy(initial=1, max_delay=10, max_attempts=100, max_age=100)
    assert policy.next_delay(1, 0, at_least=4) == 4
    assert policy.next_delay(1, 0, at_least=120) == 10
    assert policy.next_delay(3, 0, at_least=0.5) == 4
    assert policy.next_delay(1, 95, at_least=8) is None  # past max_age


def test_one_attempt_never_retries() -> None:
    assert RetryPolicy(max_attempts=1).next_delay(1, 0) is None


def test_longest_wait_is_bounded() -> None:
    assert RetryPolicy(initial=1, max_delay=4, max_attempts=5, max_age=100).longest == 1 + 2 + 4 + 4
    assert RetryPolicy(initial=1, max_delay=4, max_attempts=100, max_age=20).longest == 20
    assert RetryPolicy(initial=1, max_attempts=10**6, max_age=10).delay_after(10**6) == 30


@pytest.mark.parametrize(
    "kwargs", [{"initial": 0}, {"max_attempts": 0}, {"max_age": -1}, {"multiplier": 0.5}]
)
def test_nonsense_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
