"""One polled batch: its planned items, its outcome, and the offsets to commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition

from consumers.deadletter import DeadLetter
from consumers.handlers.base import Delivery


@dataclass(slots=True)
class Item:
    """A decoded and planned record."""

    record: Any
    delivery: Delivery
    plan: Any


@dataclass(slots=True)
class BatchOutcome:
    stored: int = 0
    duplicates: int = 0
    letters: list[DeadLetter] = field(default_factory=list)


def record_time(record: Any) -> datetime:
    stamp = getattr(record, "timestamp", None)
    if isinstance(stamp, int) and stamp > 0:
        return datetime.fromtimestamp(stamp / 1000, UTC).replace(tzinfo=None)
    return datetime.now(UTC).replace(tzinfo=None)


def next_offsets(records: Sequence[Any]) -> dict[TopicPartition, int]:
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
    return offsets
