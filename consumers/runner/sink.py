"""Where the batch loop's records go: a :class:`Sink`.

The loop (:mod:`consumers.runner.loop`) owns Kafka: polling, decoding, dead letters, offset
commits, lag, health and the batch log line. A sink owns what a batch becomes:

* :class:`~consumers.runner.store.StoreSink`: one database transaction per batch through a
  :class:`~consumers.handlers.base.Handler` (push, pull, other), exactly once per event id;
* :class:`~consumers.relay.subscriber.SubscriptionRelay`: webhook deliveries for one relay
  subscription.

``plan`` is pure and per record. It raises :class:`~consumers.handlers.base.HandlerError`
for a record the sink can never take (the loop dead-letters it); any other exception is a
bug, and the loop stops without committing. ``take`` returns the batch's
:class:`~consumers.runner.batch.BatchOutcome` (what it took, what it skipped as duplicates,
what it gave up as dead letters) and raises :class:`~consumers.errors.Interrupted` when a stop
request cuts it short, so that nothing of the batch is committed.
"""

from __future__ import annotations

from typing import Any, Protocol

from consumers.handlers.base import Delivery
from consumers.runner.batch import BatchOutcome, Item


class Sink(Protocol):
    name: str  # the handler label of logs and metrics: push, pull, other, relay.<subscription>

    def plan(self, delivery: Delivery) -> Any: ...

    async def take(self, items: list[Item]) -> BatchOutcome: ...

    async def maintain(self) -> None:
        """Housekeeping between two polls (pruning); cheap when nothing is due."""
        ...

    async def alive(self) -> None:
        """Between two polls, while the broker answers: the pipeline is up (the store sink
        writes its heartbeat, at most once a minute); cheap when nothing is due."""
        ...
