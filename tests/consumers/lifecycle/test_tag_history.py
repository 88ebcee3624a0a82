"""``tag_history`` kept in step with ``tags`` by the real handlers on a real store (SQLite and
PostgreSQL): moves, re-pushes, tag deletes, manifest deletes (every tag on it ends), events
that arrive out of order, several moves in one batch, and the reconcile's tag repairs. After
each step, every live tag has exactly one open period, pointing at the tag's digest, and a
deleted tag has none."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from common.contract import Observation
from consumers.handlers.observed import ObservedPlan
from consumers.handlers.other import OtherHandler
from consumers.handlers.push import PushHandler
from consumers.store.engine import create_engine
from tests.consumers.lifecycle.events import apply, delete, push
from tests.support.database import read_table

T0 = datetime(2026, 12, 1, 10, 0)
REPO = "team/a"
X, Y, Z = ("sha256:" + c * 64 for c in "xyz")
_n = itertools.count()


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def periods(url: str, repository: str = REPO) -> list[tuple[Any, ...]]:
    """(tag, pushed_at, digest, pushed_by, replaced_at, replaced_by), by tag and time."""
    rows = await read_table(url, "tag_history", f"repository = '{repository}'")
    found = [
        (r["tag"], r["pushed_at"], r["digest"], r["pushed_by"], r["replaced_at"], r["replaced_by"])
        for r in rows
    ]
    return sorted(found, key=lambda p: (p[0], p[1]))


async def assert_in_step(url: str) -> None:
    """One open period per live tag, with its digest; none for a deleted tag."""
    live = {r["tag"]: r["digest"] for r in await read_table(url, "tags") if r["deleted_at"] is None}
    opened = [
        (r["tag"], r["digest"]) for r in await read_table(url, "tag_history") if r["replaced_at"] is None
    ]
    assert sorted(opened) == sorted(live.items())


async def test_a_move_closes_and_opens_a_period_and_a_re_push_changes_nothing(store_url: str) -> None:
    await apply(store_url, [push(at(0), REPO, X, "1.0")])
    await apply(store_url, [push(at(5), REPO, X, "1.0", actor="bob")])  # same digest
    await apply(store_url, [push(at(10), REPO, Y, "1.0", actor="carol")])
    assert await periods(store_url) == [
        ("1.0", at(0), X, "alice", at(10), "carol"),
        ("1.0", at(10), Y, "carol", None, None),
    ]
    await assert_in_step(store_url)


async def test_several_moves_in_one_batch_are_applied_in_time_order(store_url: str) -> None:
    batch = [
        push(at(20), REPO, X, "1.0"),
        push(at(0), REPO, X, "1.0"),
        push(at(10), REPO, Y, "1.0", actor="bob"),
    ]
    await apply(store_url, batch)  # one transaction, events not in time order
    assert await periods(store_url) == [
        ("1.0", at(0), X, "alice", at(10), "bob"),
        ("1.0", at(10), Y, "bob", at(20), "alice"),
        ("1.0", at(20), X, "alice", None, None),
    ]
    await assert_in_step(store_url)


async def test_a_tag_delete_ends_its_period_and_a_later_push_opens_one(store_url: str) -> None:
    await apply(store_url, [push(at(0), REPO, X, "1.0"), push(at(0), REPO, X, "2.0")])
    await apply(store_url, [delete(at(5), REPO, tag="1.0")])
    await assert_in_step(store_url)
    await apply(store_url, [push(at(9), REPO, Y, "1.0", actor="bob")])
    assert await periods(store_url) == [
        ("1.0", at(0), X, "alice", at(5), "alice"),
        ("1.0", at(9), Y, "bob", None, None),
        ("2.0", at(0), X, "alice", None, None),
    ]
    await assert_in_step(store_url)


async def test_a_manifest_delete_ends_every_tag_pointing_at_it(store_url: str) -> None:
    await apply(
        store_url, [push(at(0), REPO, X, "1.0"), push(at(0), REPO, X, "latest"), push(at(0), REPO, Y, "2.0")]
    )
    await apply(store_url, [push(at(0), "team/b", X, "1.0")])  # the same digest elsewhere stays
    await apply(store_url, [delete(at(5), REPO, digest=X)])
    assert await periods(store_url) == [
        ("1.0", at(0), X, "alice", at(5), "alice"),
        ("2.0", at(0), Y, "alice", None, None),
        ("latest", at(0), X, "alice", at(5), "alice"),
    ]
    assert await periods(store_url, "team/b") == [("1.0", at(0), X, "alice", None, None)]
    await assert_in_step(store_url)


async def test_events_older_than_the_tags_last_change_change_nothing(store_url: str) -> None:
    await apply(store_url, [push(at(10), REPO, Y, "1.0", actor="bob")])
    # processed later, but older: a push (as tags, history ignores it) and a delete
    await apply(store_url, [push(at(0), REPO, X, "1.0")])
    await apply(store_url, [delete(at(5), REPO, tag="1.0")])
    await apply(store_url, [delete(at(5), REPO, digest=Y)])
    assert await periods(store_url) == [("1.0", at(10), Y, "bob", None, None)]
    await assert_in_step(store_url)


def seen(at: datetime, present: bool, digest: str | None = None) -> ObservedPlan:
    stamp = at.isoformat(timespec="microseconds") + "Z"
    observation = Observation(
        f"obs-{next(_n)}", "tag", present, REPO, stamp, "pass", tag="1.0", digest=digest
    )
    return ObservedPlan(observation, at)


async def _observe(url: str, handler: Any, plans: list[ObservedPlan]) -> None:
    engine = create_engine(url, writer=True)
    try:
        async with engine.begin() as connection:
            await handler.apply(plans, connection)
    finally:
        await engine.dispose()


async def test_the_reconciles_tag_repairs_move_and_end_periods(store_url: str) -> None:
    await apply(store_url, [push(at(0), REPO, X, "1.0")])
    await _observe(store_url, PushHandler(), [seen(at(3), True, X)])  # no repair: same digest
    await _observe(store_url, PushHandler(), [seen(at(5), True, Y)])  # tag_moved
    await assert_in_step(store_url)
    await _observe(store_url, OtherHandler(), [seen(at(8), False)])  # tag_removed
    await assert_in_step(store_url)
    await _observe(store_url, PushHandler(), [seen(at(9), True, Z)])  # tag_added
    assert await periods(store_url) == [
        ("1.0", at(0), X, "alice", at(5), None),  # the reconcile names no actor
        ("1.0", at(5), Y, None, at(8), None),
        ("1.0", at(9), Z, None, None, None),
    ]
    await assert_in_step(store_url)
