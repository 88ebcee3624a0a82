"""The handler interface: business logic only. The runner owns Kafka, the transaction,
idempotency, retries, dead letters, metrics and logs.

A handler is a class with a ``name`` and two methods::

    class MyHandler:
        name = "my"                       # default group <prefix>.my, topic <prefix>.my

        def plan(self, delivery: Delivery) -> MyPlan:
            # Pure, per record: turn one event into the facts to store. Raising here
            # marks that one record as poison: it goes to the DLQ, the batch goes on.
            ...

        async def apply(self, plans: Sequence[MyPlan], connection: AsyncConnection) -> None:
            # Write one batch of plans (aggregate them first) on the open transaction.
            # Do not commit: the runner commits, records the event ids and only then
            # commits the Kafka offsets. Database errors raised here are retried.
            ...

``plans`` holds only events not processed before (the runner drops redeliveries by
event id), in offset order per partition. Add a handler with one module in this package
and one line in :data:`consumers.handlers.HANDLERS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from common.contract import RECONCILE_ORIGIN, Event

PlanT = TypeVar("PlanT")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One decoded record, with where it came from.

    ``occurred_at`` is the event's timestamp in UTC without a time zone, or the
    record's timestamp when the event has none. ``origin`` is the record's
    ``regbridge-origin`` header: ``reconcile`` for an observation, None for what the
    registry sent.
    """

    event: Event
    occurred_at: datetime
    topic: str
    partition: int
    offset: int
    origin: str | None = None

    @property
    def is_observation(self) -> bool:
        """A reconcile observation (``docs/reconcile.md``), not a registry event."""
        return self.origin == RECONCILE_ORIGIN


@dataclass(frozen=True, slots=True)
class HandlerOptions:
    """What a handler is built with (from :class:`~consumers.settings.ConsumerSettings`;
    the defaults are what a handler built without settings does).

    ``ignore_useragents``: fnmatch globs, matched case-insensitively against a pull's user
    agent; a manifest pull by a matching agent still counts in every pull statistic but
    does not move ``pull_last`` (``REGBRIDGE_LIFECYCLE_IGNORE_USERAGENTS``)."""

    ignore_useragents: tuple[str, ...] = ()


class Handler(Protocol[PlanT]):
    """What the runner calls; see the module docstring."""

    name: str

    def plan(self, delivery: Delivery) -> PlanT: ...

    async def apply(self, plans: Sequence[PlanT], connection: AsyncConnection) -> None: ...


class HandlerError(Exception):
    """A record this handler can never store (raised by ``plan``): it is dead-lettered."""


def utc_naive(moment: datetime) -> datetime:
    """A datetime in UTC without tzinfo, as the store keeps them."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def parse_timestamp(text: str | None) -> datetime | None:
    """An RFC 3339 registry timestamp (up to 9 fractional digits, any offset), or None."""
    if not text:
        return None
    try:
        return utc_naive(datetime.fromisoformat(text))
    except ValueError:
        return None


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def text_key(value: str | None) -> str:
    """A key column value: ``''`` stands for absent."""
    return value or ""


def client_host(addr: str | None) -> str:
    """``127.0.0.1:54606`` → ``127.0.0.1``; ``[::1]:80`` → ``::1``; a bare host stays."""
    if not addr:
        return ""
    if addr.startswith("["):
        return addr[1:].split("]", 1)[0]
    host, sep, port = addr.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host
    return addr
