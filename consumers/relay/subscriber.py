"""One subscription's sink for the batch loop (:class:`consumers.runner.Sink`): what the
subscription wants of each record, and delivering a planned batch to its URL.

``plan`` is pure: the body to POST, or None when the subscription's actions and filters
leave the event out (and, unless it sets ``include_reconcile``, whatever the reconcile
caused: its observations and the pull events of its own requests). ``take`` delivers:
records of one partition go out one at a time, in offset order, each retried by the
subscription's policy before the next starts (head-of-line, so order holds); partitions go
out concurrently. A delivery that fails for
good becomes a dead letter naming the error and the last HTTP status; the batch goes on.
A stop request during a retry wait raises ``Interrupted``, so the loop commits nothing of
the batch. The relay has no store: receivers deduplicate on ``X-Registry-Event-Id``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from consumers.deadletter import DeadLetter
from consumers.errors import Interrupted
from consumers.handlers.base import Delivery
from consumers.relay.config import Subscription
from consumers.relay.delivery import WebhookSender
from consumers.relay.errors import DeliveryFailed
from consumers.relay.filters import wanted_delivery
from consumers.relay.metrics import SubscriptionMetrics
from consumers.relay.payload import Payload, render
from consumers.runner import BatchOutcome, Item, StopRequest

HANDLER = "relay"
log = logging.getLogger("consumers.relay")


def handler_name(subscription: Subscription) -> str:
    """``relay.<subscription>``: the loop's handler label and log name."""
    return f"{HANDLER}.{subscription.name}"


def by_partition(items: Sequence[Item]) -> list[list[Item]]:
    """The items split per (topic, partition), each list in offset order."""
    groups: dict[tuple[str, int], list[Item]] = {}
    for item in items:
        groups.setdefault((item.delivery.topic, item.delivery.partition), []).append(item)
    return [sorted(group, key=lambda i: i.delivery.offset) for group in groups.values()]


def merge(outcomes: Sequence[BatchOutcome]) -> BatchOutcome:
    total = BatchOutcome()
    for outcome in outcomes:
        total.stored += outcome.stored
        total.duplicates += outcome.duplicates
        total.letters.extend(outcome.letters)
    return total


def letter_for(item: Item, error: DeliveryFailed) -> DeadLetter:
    status = () if error.status is None else (("dlq-http-status", str(error.status).encode()),)
    return DeadLetter(item.record, error, error.attempts, status)


class SubscriptionRelay:
    """Delivers planned items to one subscription; ``stop`` cuts retry waits short."""

    def __init__(
        self,
        subscription: Subscription,
        sender: WebhookSender,
        metrics: SubscriptionMetrics,
        stop: StopRequest,
    ) -> None:
        self.subscription, self.sender, self.metrics, self.stop = subscription, sender, metrics, stop
        self.name = handler_name(subscription)

    def plan(self, delivery: Delivery) -> Payload | None:
        if not wanted_delivery(self.subscription, delivery):
            return None
        return render(self.subscription.payload, delivery.event)

    async def maintain(self) -> None:
        """Nothing to keep: the relay has no store."""

    async def alive(self) -> None:
        """No heartbeat: the relay writes nothing to the store."""

    async def take(self, items: list[Item]) -> BatchOutcome:
        groups = by_partition(items)
        if len(groups) == 1:
            return await self._partition(groups[0])
        try:
            async with asyncio.TaskGroup() as tasks:
                running = [tasks.create_task(self._partition(group)) for group in groups]
        except* Interrupted as stopped:
            # one plain Interrupted for the loop, not an ExceptionGroup
            raise stopped.exceptions[0] from None
        return merge([task.result() for task in running])

    async def _partition(self, items: list[Item]) -> BatchOutcome:
        return merge([await self._one(item) for item in items])

    async def _one(self, item: Item) -> BatchOutcome:
        if item.plan is None:
            self.metrics.skipped()
            return BatchOutcome()
        event_id = item.delivery.event.id
        result = await self.sender.deliver(item.plan, event_id, self.stop.pause)
        if result.delivered:
            self.metrics.delivered()
            return BatchOutcome(stored=1)
        self.metrics.failed()
        fields = {"subscription": self.subscription.name, "event_id": event_id, "error": result.error}
        log.warning("delivery given up", extra={"fields": fields})
        error = DeliveryFailed(result.error, attempts=result.attempts, status=result.status)
        return BatchOutcome(letters=[letter_for(item, error)])
