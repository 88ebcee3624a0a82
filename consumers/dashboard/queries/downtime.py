"""When the pipeline was down: the minutes of a window that no consumer's heartbeat covers.

Every store consumer writes a heartbeat once a wall-clock minute while it can store
(``pipeline_uptime``, see ``consumers.runner.heartbeat``): a run of consecutive minutes is
one row, ``started_at`` … ``last_seen_at``, and covers each minute from the first's to the
last's. A minute of the window that no run of a handler covers is a minute in which that
handler stored nothing because it was not running, or could not reach its broker or the
store: its statistics show nothing there, which is not "no traffic". Events of such a
minute may still arrive later (Kafka keeps them for a consumer that was down) or be lost
(a registry restart while the bridge was down: the registry's queue is in memory).

Nothing is claimed before a handler's first heartbeat (a store upgraded to revision 0006
has no facts for the time before; a handler never run has none at all), nor for the
current minute, whose heartbeat may still come.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.dashboard.params import Window, as_utc, floor_to, iso
from consumers.dashboard.queries.buckets import naive
from consumers.store.tables import pipeline_uptime

LOAD_HANDLERS = ("pull", "push")  # whose figures the load charts draw
MINUTE = timedelta(minutes=1)
Span = tuple[datetime, datetime]


def _minute(moment: datetime) -> datetime:
    return floor_to(moment, "minute")


def _uncovered(claimed: Span, covered: Iterable[Span]) -> list[Span]:
    """``claimed`` minus the union of ``covered`` (all minute-aligned)."""
    start, end = claimed
    found: list[Span] = []
    for since, until in sorted(covered):
        if until <= start:
            continue
        if since >= end:
            break
        if since > start:
            found.append((start, since))
        start = max(start, until)
    if start < end:
        found.append((start, end))
    return found


def _merged(down: dict[str, list[Span]]) -> list[dict[str, Any]]:
    """One interval per stretch with the same handlers down, oldest first (a sweep over
    the spans' edges; each handler's spans do not overlap)."""
    edges: dict[datetime, dict[str, bool]] = defaultdict(dict)
    for handler, spans in down.items():
        for since, until in spans:
            edges[since][handler] = True
            edges[until].setdefault(handler, False)
    found: list[dict[str, Any]] = []
    active: set[str] = set()
    for moment in sorted(edges):
        for handler, starts in edges[moment].items():
            (active.add if starts else active.discard)(handler)
        if found and found[-1]["until"] is None:
            found[-1]["until"] = moment
        if active:
            handlers = sorted(active)
            if found and found[-1]["until"] == moment and found[-1]["handlers"] == handlers:
                found[-1]["until"] = None  # the same handlers go on being down
            else:
                found.append({"since": moment, "until": None, "handlers": handlers})
    return [_json(item) for item in found]


def _json(item: dict[str, Any]) -> dict[str, Any]:
    since, until = item["since"], item["until"]
    return {
        "since": iso(since),
        "until": iso(until),
        "minutes": int((until - since) / MINUTE),
        "handlers": item["handlers"],
    }


async def _first_heartbeats(conn: AsyncConnection, handlers: Sequence[str]) -> dict[str, datetime]:
    u = pipeline_uptime.c
    query = select(u.handler, func.min(u.started_at)).where(u.handler.in_(handlers)).group_by(u.handler)
    return {handler: as_utc(first) for handler, first in (await conn.execute(query)).all() if first}


async def _runs(conn: AsyncConnection, handlers: Sequence[str], claimed: Span) -> dict[str, list[Span]]:
    """Per handler, the minutes its runs cover that reach into ``claimed``."""
    u = pipeline_uptime.c
    query = select(u.handler, u.started_at, u.last_seen_at).where(
        u.handler.in_(handlers), u.last_seen_at >= naive(claimed[0]), u.started_at < naive(claimed[1])
    )
    found: dict[str, list[Span]] = {}
    for handler, started_at, last_seen_at in (await conn.execute(query)).all():
        span = (_minute(as_utc(started_at)), _minute(as_utc(last_seen_at)) + MINUTE)
        found.setdefault(handler, []).append(span)
    return found


async def pipeline_down(
    conn: AsyncConnection, span: Window, now: datetime, handlers: Sequence[str] = LOAD_HANDLERS
) -> list[dict[str, Any]]:
    """The stretches of ``span`` in which some of ``handlers`` had no heartbeat, each with
    ``since``, ``until`` (whole minutes), ``minutes`` and the ``handlers`` that were down."""
    end = min(_minute(span.until - timedelta(microseconds=1)) + MINUTE, _minute(now))
    claimed = (_minute(span.since), end)
    if claimed[0] >= claimed[1]:
        return []
    first = await _first_heartbeats(conn, handlers)
    covered = await _runs(conn, list(first), claimed)
    down: dict[str, list[Span]] = {}
    for handler, since in first.items():
        own = (max(claimed[0], _minute(since)), claimed[1])
        if own[0] < own[1]:
            down[handler] = _uncovered(own, covered.get(handler, []))
    return _merged(down)
