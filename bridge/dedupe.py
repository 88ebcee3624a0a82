"""A bounded window of recently published event ids, so that a registry retry is not
published twice.

The registry resends the same event ``id`` after a slow or failed answer. Two cases:

* the first copy was acknowledged by Kafka: its id is in the window, and the retry is
  answered 200 and counted as a duplicate, without publishing;
* the first copy is still in flight (sent, not yet acknowledged, e.g. Kafka is slow or
  down and the first request already got its 503): the retry *joins* the first copy's
  acknowledgement instead of sending a second record. It gets 200 if that ack arrives
  within its own publish budget, else 503 again. If the first copy finally fails, its
  id leaves the in-flight set and the next retry publishes afresh.

An id is remembered only after its record was acknowledged, late acks included (a
record whose request already got 503 may still land; its retry then reads as a
duplicate). The window is per process and in memory: after a restart, or once more
than ``size`` newer ids went through, a retry is published again (at-least-once).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from functools import partial
from typing import Any


class DedupeWindow:
    """Remembers the last ``size`` acknowledged ids (``size=0`` turns dedupe off)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._published: OrderedDict[str, None] = OrderedDict()
        self._in_flight: dict[str, asyncio.Future[Any]] = {}

    def __len__(self) -> int:
        return len(self._published)

    def published(self, event_id: str) -> bool:
        return event_id in self._published

    def in_flight(self, event_id: str) -> asyncio.Future[Any] | None:
        """The pending acknowledgement of an earlier copy of this event, if any."""
        return self._in_flight.get(event_id)

    def track(self, event_id: str, ack: asyncio.Future[Any]) -> None:
        """Follow one sent record until Kafka acknowledges (remember) or fails (forget)."""
        if self.size <= 0:
            return
        self._in_flight[event_id] = ack
        ack.add_done_callback(partial(self._settle, event_id))

    def remember(self, event_id: str) -> None:
        if self.size <= 0:
            return
        self._published[event_id] = None
        self._published.move_to_end(event_id)
        while len(self._published) > self.size:
            self._published.popitem(last=False)

    def spooled(self, event_id: str) -> None:
        """The event is safe in the spool: remember it, and let no retry wait on the
        Kafka ack of an earlier copy any more."""
        self._in_flight.pop(event_id, None)
        self.remember(event_id)

    def _settle(self, event_id: str, ack: asyncio.Future[Any]) -> None:
        if self._in_flight.get(event_id) is ack:
            del self._in_flight[event_id]
        if not ack.cancelled() and ack.exception() is None:
            self.remember(event_id)
