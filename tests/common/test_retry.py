"""The one retry loop and its backoff policy (pure logic: no real waiting)."""

from __future__ import annotations

import asyncio

import pytest

from common.retry import Backoff, Retrying, retry


class Flaky:
    """Fails ``failures`` times with ``error``, then returns ``"done"``."""

    def __init__(self, failures: int, error: BaseException) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_the_delays_double_up_to_the_cap() -> None:
    backoff = Backoff(initial=0.5, maximum=3.0)
    assert [backoff.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.delay(10_000) == 3.0


def test_jitter_stays_within_its_fraction_below_the_delay() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0, jitter=0.5)
    for attempt in range(1, 6):
        for _ in range(50):
            assert 0.5 * backoff.ceiling(attempt) <= backoff.delay(attempt) <= backoff.ceiling(attempt)


def test_a_retry_after_lengthens_the_wait_but_not_past_the_cap() -> None:
    backoff = Backoff(initial=0.1, maximum=5.0)
    assert backoff.delay(1, at_least=2.0) == 2.0
    assert backoff.delay(1, at_least=60.0) == 5.0


@pytest.mark.parametrize(
    "options",
    [{"initial": 0}, {"maximum": -1}, {"multiplier": 0.5}, {"jitter": 1.5}],
)
def test_nonsense_policies_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**options)


async def test_transient_errors_are_retried_with_the_policys_waits() -> None:
    action, sleeps, seen = Flaky(3, OSError("down")), Sleeps(), list[Retrying]()
    result = await retry(action, Backoff(0.1, 1.0), sleep=sleeps, on_retry=seen.append)
    assert result == "done" and action.calls == 4
    assert sleeps.waits == pytest.approx([0.1, 0.2, 0.4])
    assert [(r.attempt, str(r.error)) for r in seen] == [(1, "down"), (2, "down"), (3, "down")]


async def test_an_error_the_predicate_refuses_propagates_at_once() -> None:
    action, sleeps = Flaky(1, KeyError("bug")), Sleeps()
    with pytest.raises(KeyError):
        await retry(action, Backoff(), retry_on=lambda exc: isinstance(exc, OSError), sleep=sleeps)
    assert action.calls == 1 and sleeps.waits == []


async def test_max_attempts_raises_the_last_error() -> None:
    action = Flaky(10, OSError("still down"))
    with pytest.raises(OSError, match="still down"):
        await retry(action, Backoff(), sleep=Sleeps(), max_attempts=3)
    assert action.calls == 3


async def test_a_result_can_ask_for_a_retry_and_a_floor_for_the_wait() -> None:
    answers = iter([429, 503, 200])
    sleeps = Sleeps()

    async def call() -> int:
        return next(answers)

    status = await retry(
        call,
        Backoff(0.1, 10.0),
        retry_result=lambda s: s != 200,
        at_least=lambda s: 2.0 if s == 429 else 0.0,
        sleep=sleeps,
    )
    assert status == 200 and sleeps.waits == pytest.approx([2.0, 0.2])


async def test_when_the_attempts_run_out_the_last_result_is_returned() -> None:
    async def call() -> int:
        return 500

    assert (
        await retry(call, Backoff(), retry_result=lambda s: s >= 500, sleep=Sleeps(), max_attempts=2) == 500
    )


async def test_max_age_stops_before_an_attempt_that_would_start_too_late() -> None:
    """Real (short) waits: the age is measured on the monotonic clock."""
    action = Flaky(100, OSError("down"))
    with pytest.raises(OSError):
        await retry(action, Backoff(initial=0.2, maximum=0.2), max_age=0.5)
    assert 2 <= action.calls <= 3  # attempts at 0 s, 0.2 s and (unless the box is slow) 0.4 s


async def test_a_sleep_that_raises_ends_the_loop_with_its_exception() -> None:
    class Stopped(Exception):
        pass

    async def stopping(seconds: float) -> None:
        raise Stopped

    action = Flaky(5, OSError("down"))
    with pytest.raises(Stopped):
        await retry(action, Backoff(), sleep=stopping)
    assert action.calls == 1


async def test_a_lambda_returning_a_coroutine_is_awaited() -> None:
    action = Flaky(1, OSError("down"))
    assert await retry(lambda: action(), Backoff(), sleep=Sleeps()) == "done"
    assert action.calls == 2


async def test_a_cancellation_is_never_retried() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    task = asyncio.create_task(retry(forever, Backoff(), sleep=Sleeps()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
