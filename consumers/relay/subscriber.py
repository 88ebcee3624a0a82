"""One subscription's business logic: relay a batch of records to its URL.

Records of one partition go out one at a time, in offset order, each retried by the
subscription's policy before the next starts (head-of-line, so order holds). Partitions go
out concurrently. A record that is undecodable, or whose delivery fails for good, comes back
as a :class:`Letter` for the dead-letter topic; the batch goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bridge.contract import ContractError, decode_event
from consumers.relay.config import Subscription
from consumers.relay.delivery import WebhookSender
from consumers.relay.errors import DeliveryFailed
from consumers.relay.filters import wanted
from consumers.relay.metrics import SubscriptionMetrics
from consumers.relay.payload import render

log = logging.getLogger("consumers.relay")


@dataclass(frozen=True, slots=True)
class Letter:
    """A record given up on. ``record`` is an aiokafka ``ConsumerRecord``."""

    record: Any
    error: Exception
    attempts: int


@dataclass(slots=True)
class Outcome:
    delivered: int = 0
    skipped: int = 0
    letters: list[Letter] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.delivered += other.delivered
        self.skipped += other.skipped
        self.letters.extend(other.letters)


def by_partition(records: Sequence[Any]) -> list[list[Any]]:
    """The records split per (topic, partition), each list in offset order."""
    groups: dict[tuple[str, int], list[Any]] = {}
    for record in records:
        groups.setdefault((record.topic, record.partition), []).append(record)
    return [sorted(group, key=lambda r: r.offset) for group in groups.values()]


class SubscriptionRelay:
    """Relays records to one subscription. ``stop`` cuts retry waits short."""

    def __init__(
        self,
        subscription: Subscription,
        sender: WebhookSender,
        metrics: SubscriptionMetrics,
        stop: asyncio.Event,
    ) -> None:
        self.subscription, self.sender, self.metrics, self._stop = subscription, sender, metrics, stop

    async def relay(self, records: Sequence[Any]) -> Outcome:
        """Raises ``DeliveryStopped`` when stopped mid-retry (nothing of the batch may be committed)."""
        groups = by_partition(records)
        if len(groups) == 1:
            return await self._partition(groups[0])
        async with asyncio.TaskGroup() as tasks:
            running = [tasks.create_task(self._partition(group)) for group in groups]
        outcome = Outcome()
        for task in running:
            outcome.add(task.result())
        return outcome

    async def _partition(self, records: list[Any]) -> Outcome:
        outcome = Outcome()
        for record in records:
            outcome.add(await self._one(record))
        return outcome

    async def _one(self, record: Any) -> Outcome:
        try:
            event = decode_event(record.value)
        except ContractError as exc:
            self.metrics.failed()
            return Outcome(letters=[Letter(record, exc, 1)])
        if not wanted(self.subscription, event):
            self.metrics.skipped()
            return Outcome(skipped=1)
        result = await self.sender.deliver(render(self.subscription.payload, event), event.id, self._wait)
        if result.delivered:
            self.metrics.delivered()
            return Outcome(delivered=1)
        self.metrics.failed()
        log.warning(
            "delivery given up",
            extra={
                "fields": {
                    "subscription": self.subscription.name,
                    "event_id": event.id,
                    "error": result.error,
                }
            },
        )
        error = DeliveryFailed(result.error, attempts=result.attempts, status=result.status)
        return Outcome(letters=[Letter(record, error, result.attempts)])

    async def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; True when the relay is stopping."""
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            return False
        return True
