"""The relay's sink: its plan and its batch bookkeeping, on plain objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.contract import Event
from consumers.deadletter import DeadLetter
from consumers.handlers.base import Delivery
from consumers.relay.config import Filters, PayloadFormat, Subscription
from consumers.relay.errors import DeliveryFailed
from consumers.relay.subscriber import SubscriptionRelay, by_partition, letter_for, merge
from consumers.runner import BatchOutcome, Item, StopRequest


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes = b"k"
    value: bytes = b"{}"


def item(topic: str, partition: int, offset: int, repository: str = "a/b") -> Item:
    event = Event.from_raw(
        {"id": f"{topic}-{partition}-{offset}", "action": "push", "target": {"repository": repository}}
    )
    delivery = Delivery(event, datetime(2026, 11, 29), topic, partition, offset)
    return Item(Record(topic, partition, offset), delivery, None)


def test_items_split_per_partition_in_offset_order() -> None:
    items = [item("t", 1, 5), item("t", 0, 3), item("u", 0, 1), item("t", 1, 4), item("t", 0, 2)]
    groups = [
        [(i.delivery.topic, i.delivery.partition, i.delivery.offset) for i in g] for g in by_partition(items)
    ]
    assert groups == [[("t", 1, 4), ("t", 1, 5)], [("t", 0, 2), ("t", 0, 3)], [("u", 0, 1)]]


def test_outcomes_add_up() -> None:
    letter = DeadLetter(Record("t", 0, 1), ValueError("x"), 1)
    total = merge([BatchOutcome(stored=2), BatchOutcome(letters=[letter]), BatchOutcome(stored=1)])
    assert (total.stored, total.duplicates, total.letters) == (3, 0, [letter])


def test_a_letter_names_the_http_status_when_there_was_one() -> None:
    answered = letter_for(item("t", 0, 1), DeliveryFailed("HTTP 503: busy", attempts=4, status=503))
    silent = letter_for(item("t", 0, 1), DeliveryFailed("ConnectError: refused", attempts=8, status=None))
    assert answered.headers == (("dlq-http-status", b"503"),) and answered.attempts == 4
    assert silent.headers == () and silent.attempts == 8


def test_the_sink_plans_a_body_or_nothing() -> None:
    subscription = Subscription(
        name="s",
        url="http://x/",
        filters=Filters(repositories=("a/*",)),
        payload=PayloadFormat.CLOUDEVENT,
    )
    sink = SubscriptionRelay(subscription, sender=None, metrics=None, stop=StopRequest())  # type: ignore[arg-type]
    assert sink.name == "relay.s"
    wanted = sink.plan(item("t", 0, 1, repository="a/b").delivery)
    assert wanted is not None and wanted.content_type.startswith("application/cloudevents+json")
    assert sink.plan(item("t", 0, 2, repository="b/c").delivery) is None
