"""Every retry of the project: one policy, :class:`Backoff`, and one loop, :func:`retry`.

:func:`retry` runs on tenacity's ``AsyncRetrying``; :class:`Backoff` computes the waits
(capped exponential, optional jitter, never shorter than a ``Retry-After`` the other side
asked for). Where the project retries:

=================================  =============================================  ==========
what                               gives up                                       module
=================================  =============================================  ==========
the bridge's producer connecting   never (until the bridge stops)                 bridge.publisher
the spool republishing a batch     never                                          bridge.spool.drainer
a consumer's poll, store, commit   never for transient errors; a stop request     consumers.runner
consumer and relay start-up        interrupts the wait (the caller's ``sleep``)   consumers.process
a relay webhook delivery           after ``max_attempts`` or ``max_age``          consumers.relay
=================================  =============================================  ==========

A caller that must stop while waiting passes a ``sleep`` that raises (the consumers'
``Interrupted``); that exception ends the loop as it is.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    stop_before_delay,
    stop_never,
)
from tenacity.retry import retry_base
from tenacity.stop import stop_base

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
OnRetry = Callable[["Retrying"], None]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits of ``initial * multiplier ** (n - 1)`` after failed attempt ``n`` (1-based),
    capped at ``maximum``. ``jitter`` (0 to 1) draws each wait from
    ``[(1 - jitter) * wait, wait]``, so that many clients failing together do not retry
    together."""

    initial: float = 0.2
    maximum: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum <= 0:
            raise ValueError("backoff delays must be more than zero")
        if self.multiplier < 1:
            raise ValueError("the backoff multiplier must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def ceiling(self, attempt: int) -> float:
        """The wait after failed attempt ``attempt`` before jitter."""
        exponent = min(max(0, attempt - 1), 64)  # huge attempt numbers cannot overflow
        return min(self.initial * self.multiplier**exponent, self.maximum)

    def delay(self, attempt: int, at_least: float = 0.0) -> float:
        """The wait after failed attempt ``attempt``; ``at_least`` (a ``Retry-After``) is
        honoured up to ``maximum``."""
        wait = self.ceiling(attempt)
        if self.jitter:
            wait *= 1 - self.jitter * random.random()  # noqa: S311 - spreading retries, not secrets
        return max(wait, min(at_least, self.maximum))


@dataclass(frozen=True, slots=True)
class Retrying:
    """What ``on_retry`` learns before each wait."""

    attempt: int  # the attempt that just failed, from 1
    delay: float  # seconds until the next one
    error: BaseException | None  # None when a result asked for the retry
    result: object = None


def _stop(max_attempts: int | None, max_age: float | None) -> stop_base:
    stop: stop_base = stop_never
    if max_attempts is not None:
        stop = stop_after_attempt(max_attempts)
    if max_age is not None:
        stop = stop | stop_before_delay(max_age) if max_attempts is not None else stop_before_delay(max_age)
    return stop


async def retry(
    action: Callable[[], Awaitable[T]],
    backoff: Backoff,
    *,
    retry_on: Callable[[BaseException], bool] = lambda _exc: True,
    retry_result: Callable[[T], bool] | None = None,
    at_least: Callable[[T], float] | None = None,
    on_retry: OnRetry | None = None,
    sleep: Sleep = asyncio.sleep,
    max_attempts: int | None = None,
    max_age: float | None = None,
) -> T:
    """Run ``action`` until it succeeds, retrying exceptions ``retry_on`` accepts (others
    propagate at once) and results ``retry_result`` rejects. When ``max_attempts`` or
    ``max_age`` (no attempt starts later than that after the first) ends the loop, the
    last exception is raised, or the last result returned."""

    def wait(state: RetryCallState) -> float:
        outcome = state.outcome
        floor = 0.0
        if at_least is not None and outcome is not None and not outcome.failed:
            floor = at_least(outcome.result())
        return backoff.delay(state.attempt_number, floor)

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is None or state.outcome is None:
            return
        failed = state.outcome.failed
        error = state.outcome.exception() if failed else None
        result = None if failed else state.outcome.result()
        on_retry(Retrying(state.attempt_number, state.upcoming_sleep, error, result))

    # only Exceptions: a cancellation (or KeyboardInterrupt) ends the loop, never retried
    condition: retry_base = retry_if_exception(lambda exc: isinstance(exc, Exception) and retry_on(exc))
    if retry_result is not None:
        condition = condition | retry_if_result(retry_result)
    retrying = AsyncRetrying(
        sleep=sleep,
        stop=_stop(max_attempts, max_age),
        wait=wait,
        retry=condition,
        before_sleep=before_sleep,
        reraise=True,
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
    )

    async def attempt() -> T:  # tenacity awaits only what *looks* async: lambdas and partials don't
        return await action()

    result: T = await retrying(attempt)
    return result
