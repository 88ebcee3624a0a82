"""The dedupe window, and waiting for acknowledgements without cancelling them."""

from __future__ import annotations

import asyncio
from typing import Any

from bridge.dedupe import DedupeWindow
from bridge.receiver import all_done


async def test_dedupe_remembers_acknowledged_ids_within_its_size() -> None:
    window = DedupeWindow(2)
    loop = asyncio.get_running_loop()
    acks = {name: loop.create_future() for name in ("a", "b", "c")}
    for name, ack in acks.items():
        window.track(name, ack)
    assert window.in_flight("a") is acks["a"] and not window.published("a")
    for ack in acks.values():
        ack.set_result(None)
    await asyncio.sleep(0)
    assert window.in_flight("a") is None
    assert [window.published(n) for n in "abc"] == [False, True, True]  # oldest evicted


async def test_dedupe_forgets_a_failed_copy() -> None:
    window = DedupeWindow(10)
    ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    window.track("a", ack)
    ack.set_exception(RuntimeError("broker down"))
    await asyncio.sleep(0)
    assert window.in_flight("a") is None and not window.published("a")


def test_dedupe_size_zero_is_off() -> None:
    window = DedupeWindow(0)
    window.remember("a")
    assert not window.published("a") and len(window) == 0


async def test_all_done_waits_for_every_future_and_never_cancels() -> None:
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    loop.call_later(0.01, first.set_result, 1)
    loop.call_later(0.02, second.set_result, 2)
    assert await all_done([first, second], 5.0) == 0
    late: asyncio.Future[Any] = loop.create_future()
    assert await all_done([first, late], 0.05) == 1
    assert not late.cancelled()
    assert await all_done([], 0.0) == 0
