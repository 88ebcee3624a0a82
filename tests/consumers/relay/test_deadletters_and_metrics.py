"""What the relay adds to the consumers' dead letters and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from consumers.deadletter import DeadLetter, dead_letter_headers
from consumers.metrics import ConsumerMetrics


@dataclass(frozen=True)
class Record:
    topic: str = "t.push"
    partition: int = 0
    offset: int = 7
    key: bytes = b"k"
    value: bytes = b"{}"
    headers: tuple[tuple[str, bytes], ...] = (("event-id", b"e1"),)


def test_a_letter_carries_its_own_headers_after_the_standard_ones() -> None:
    letter = DeadLetter(Record(), RuntimeError("HTTP 503"), 3, (("dlq-http-status", b"503"),))
    headers = dead_letter_headers(letter, handler="relay", group="g", failed_at=datetime.now(UTC))
    names = [name for name, _ in headers]
    assert names[0] == "event-id" and names[-1] == "dlq-http-status"
    assert dict(headers)["dlq-attempts"] == b"3" and dict(headers)["dlq-error"] == b"HTTP 503"


def test_labelled_metrics_share_one_registry() -> None:
    base = ConsumerMetrics("relay")
    one, two = base.labelled("relay.one"), base.labelled("relay.two")
    one.processed(2)
    two.processed(5)
    assert base.registry.get_sample_value("regbridge_consumer_processed_total", {"handler": "relay.one"}) == 2
    assert base.registry.get_sample_value("regbridge_consumer_processed_total", {"handler": "relay.two"}) == 5
    assert base.handler == "relay"
