"""The consumer's heartbeat: what tells "no events" from "the pipeline was down".

A minute without events and a minute in which no consumer could store anything look the
same in the statistics. So every store sink writes a heartbeat once a wall-clock minute
(``pipeline_uptime``, :mod:`consumers.store.uptime`):

* in the batch's own transaction when a batch is stored in that minute, so the heartbeat
  commits exactly when the batch does;
* otherwise on its own, between polls, and only while the broker answers the consumer's
  fetches (:meth:`consumers.runner.loop.BatchLoop.broker_answers`): a consumer that polls
  a broker that is down is not "up".

Consecutive minutes extend one row (``started_at`` … ``last_seen_at``); a minute without
a heartbeat (the process stopped, the store or the broker was unreachable, the loop was
stuck) ends it, and the next heartbeat opens a new row. A wall-clock minute is "covered"
for a handler when some process of that handler wrote a heartbeat in it; the dashboard
marks the minutes that are not (``consumers.dashboard.queries.downtime``).

Cost, bounded: one primary-key write a minute per process, whatever the event rate; one
row per start or outage of a process.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.store import uptime

MINUTE = timedelta(minutes=1)
Clock = Callable[[], datetime]


def now_utc() -> datetime:
    """UTC wall time without a zone, as the store keeps times."""
    return datetime.now(UTC).replace(tzinfo=None)


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def process_name() -> str:
    """``host:pid``: which process a row came from, for the operator."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Beat:
    """A heartbeat written in a transaction that has not committed yet."""

    minute: datetime
    started_at: datetime


class Heartbeat:
    """One process's heartbeat for one handler. :meth:`write` inside a transaction, then
    :meth:`committed` once that transaction committed (a rolled-back beat never counts)."""

    def __init__(self, handler: str, *, process: str | None = None, clock: Clock = now_utc) -> None:
        self.handler, self.clock = handler, clock
        self.process = process or process_name()
        self._minute: datetime | None = None  # of the last committed beat
        self._started_at: datetime | None = None  # of the run that beat extended or opened

    def due(self) -> bool:
        """No committed beat in the current minute yet."""
        return minute_of(self.clock()) != self._minute

    async def write(self, connection: AsyncConnection) -> Beat | None:
        """The beat of the current minute, if it is due: extends the run when the last
        committed beat was in the minute before, else opens a new run."""
        now = self.clock()
        minute = minute_of(now)
        if minute == self._minute:
            return None
        run = self._started_at if self._minute is not None and minute - self._minute == MINUTE else None
        if run is not None and await uptime.extend_run(connection, self.handler, self.process, run, now):
            return Beat(minute, run)
        await uptime.open_run(connection, self.handler, self.process, now)
        return Beat(minute, now)

    def committed(self, beat: Beat | None) -> None:
        if beat is not None:
            self._minute, self._started_at = beat.minute, beat.started_at
