"""The relay's handler for the consumers runner: per record, the pure part (does the
subscription want the event, and what body does it get). Delivery is the sink's job
(:mod:`consumers.relay.subscriber`), so this handler has no store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from consumers.handlers.base import Delivery
from consumers.relay.config import Subscription
from consumers.relay.filters import wanted
from consumers.relay.payload import Payload, render

HANDLER = "relay"


def handler_name(subscription: Subscription) -> str:
    """``relay.<subscription>``: the runner's handler label and log name."""
    return f"{HANDLER}.{subscription.name}"


class RelayHandler:
    """Plans one record: the body to POST, or None when the subscription does not want it."""

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription
        self.name = handler_name(subscription)

    def plan(self, delivery: Delivery) -> Payload | None:
        if not wanted(self.subscription, delivery.event):
            return None
        return render(self.subscription.payload, delivery.event)

    async def apply(self, plans: Sequence[Payload | None], connection: Any) -> None:
        """Never called: the runner is given the relay's sink instead of a store."""
        raise TypeError("the relay delivers through its sink, not through a database transaction")
