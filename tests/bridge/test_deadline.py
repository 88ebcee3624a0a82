"""bridge.deadline.Deadline keeps asyncio.timeout's rules: TimeoutError at the deadline, a
cancellation from outside goes on as a cancellation, nothing is left armed afterwards. Run on
the default loop and on uvloop (what the bridge serves with)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop

from bridge.deadline import Deadline

Scenario = Callable[[], Coroutine[Any, Any, None]]


async def expires() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError), Deadline(0.05) as deadline:
        await asyncio.sleep(5)
    assert deadline.expired and time.monotonic() - started < 2
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    await asyncio.sleep(0.01)  # no cancellation is left pending


async def finishes_in_time() -> None:
    with Deadline(0.05) as deadline:
        await asyncio.sleep(0.001)
    assert not deadline.expired
    await asyncio.sleep(0.1)  # past the deadline: the timer was disarmed


async def outside_cancellation_goes_on() -> None:
    async def guarded(delay: float) -> None:
        with Deadline(delay):
            await asyncio.sleep(5)

    for delay in (5.0, 0.01):  # the deadline far away, or expiring while the cancel is pending
        task = asyncio.create_task(guarded(delay))
        await asyncio.sleep(0.02 if delay > 1 else 0.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def nested_inner_expires() -> None:
    with Deadline(5) as outer:
        with pytest.raises(TimeoutError), Deadline(0.02):
            await asyncio.sleep(5)
        await asyncio.sleep(0.01)
    assert not outer.expired


SCENARIOS = [expires, finishes_in_time, outside_cancellation_goes_on, nested_inner_expires]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_on_the_default_loop(scenario: Scenario) -> None:
    asyncio.run(scenario())


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_on_uvloop(scenario: Scenario) -> None:
    uvloop.run(scenario())


def test_outside_a_task() -> None:
    with pytest.raises(RuntimeError), Deadline(1):  # no running loop, no task
        pass
