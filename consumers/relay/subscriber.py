"""One subscription's sink for the consumers runner: deliver a planned batch to its URL.

Records of one partition go out one at a time, in offset order, each retried by the
subscription's policy before the next starts (head-of-line, so order holds). Partitions go
out concurrently. A delivery that fails for good becomes a dead letter naming the error and
the last HTTP status; the batch goes on. A stop request during a retry wait raises
``DeliveryStopped`` (an ``Interrupted``), so the runner commits nothing of the batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from consumers.batch import BatchOutcome, Item
from consumers.deadletter import DeadLetter
from consumers.relay.config import Subscription
from consumers.relay.delivery import WebhookSender
from consumers.relay.errors import DeliveryFailed, DeliveryStopped
from consumers.relay.metrics import SubscriptionMetrics

log = logging.getLogger("consumers.relay")


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
        stop: asyncio.Event,
    ) -> None:
        self.subscription, self.sender, self.metrics, self._stop = subscription, sender, metrics, stop

    async def __call__(self, items: list[Item]) -> BatchOutcome:
        groups = by_partition(items)
        if len(groups) == 1:
            return await self._partition(groups[0])
        try:
            async with asyncio.TaskGroup() as tasks:
                running = [tasks.create_task(self._partition(group)) for group in groups]
        except* DeliveryStopped as stopped:
            # one plain Interrupted for the runner, not an ExceptionGroup
            raise stopped.exceptions[0] from None
        return merge([task.result() for task in running])

    async def _partition(self, items: list[Item]) -> BatchOutcome:
        return merge([await self._one(item) for item in items])

    async def _one(self, item: Item) -> BatchOutcome:
        if item.plan is None:
            self.metrics.skipped()
            return BatchOutcome()
        event_id = item.delivery.event.id
        result = await self.sender.deliver(item.plan, event_id, self._wait)
        if result.delivered:
            self.metrics.delivered()
            return BatchOutcome(stored=1)
        self.metrics.failed()
        fields = {"subscription": self.subscription.name, "event_id": event_id, "error": result.error}
        log.warning("delivery given up", extra={"fields": fields})
        error = DeliveryFailed(result.error, attempts=result.attempts, status=result.status)
        return BatchOutcome(letters=[letter_for(item, error)])

    async def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; True when the relay is stopping."""
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            return False
        return True
