"""Reading back what landed on the broker, by consuming it (never by end offsets:
Tansu under-counts those for batched produce)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer


@dataclass(frozen=True)
class Landed:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


async def consume(
    bootstrap: str,
    topics: Iterable[str],
    *,
    expect: int,
    within: float = 15.0,
    settle: float = 0.5,
    client_kwargs: dict[str, Any] | None = None,
) -> list[Landed]:
    """Every record on ``topics`` from the start: waits for ``expect`` records, then
    ``settle`` seconds more so that extra records are seen too. ``client_kwargs`` (TLS,
    SASL) go to the consumer as they are."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        client_id=f"test-reader-{uuid.uuid4().hex[:6]}",
        **(client_kwargs or {}),
    )
    await consumer.start()
    found: list[Landed] = []
    try:
        deadline = time.monotonic() + within
        settle_until: float | None = None
        while time.monotonic() < deadline:
            if len(found) >= expect and settle_until is None:
                settle_until = time.monotonic() + settle
            if settle_until is not None and time.monotonic() >= settle_until:
                break
            batch = await consumer.getmany(timeout_ms=100)
            for records in batch.values():
                found.extend(
                    Landed(r.topic, r.partition, r.offset, r.key, r.value, dict(r.headers)) for r in records
                )
        return found
    finally:
        await consumer.stop()
