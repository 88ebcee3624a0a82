"""The dead-letter topic ``<prefix>.dlq``.

A dead letter keeps the original record's key, value and headers, and gains:

================================  ==================================================
``dlq-error``                     the error message (at most 1 KiB)
``dlq-error-type``                the exception class, e.g. ``InvalidEvent``
``dlq-handler``                   the handler that gave up (push, pull, other)
``dlq-group``                     the consumer group
``dlq-attempts``                  how many times the record was tried
``dlq-source-topic``              where the record was read
``dlq-source-partition``          its partition
``dlq-source-offset``             its offset
``dlq-failed-at``                 when it was given up (RFC 3339, UTC)
================================  ==================================================

The producer uses ``acks=all`` without idempotence (the embedded broker refuses
idempotent producers); a dead letter may be written twice if the consumer crashes
between the DLQ write and the offset commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from common.contract import Headers

MAX_ERROR_BYTES = 1024


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record given up on. ``record`` is an aiokafka ``ConsumerRecord``."""

    record: Any
    error: BaseException
    attempts: int
    headers: tuple[tuple[str, bytes], ...] = ()  # more headers for this letter only (the relay's)


def dead_letter_headers(letter: DeadLetter, *, handler: str, group: str, failed_at: datetime) -> Headers:
    record = letter.record
    headers: Headers = [(key, value) for key, value in (record.headers or ())]
    headers += [
        ("dlq-error", str(letter.error).encode()[:MAX_ERROR_BYTES] or type(letter.error).__name__.encode()),
        ("dlq-error-type", type(letter.error).__name__.encode()),
        ("dlq-handler", handler.encode()),
        ("dlq-group", group.encode()),
        ("dlq-attempts", str(letter.attempts).encode()),
        ("dlq-source-topic", str(record.topic).encode()),
        ("dlq-source-partition", str(record.partition).encode()),
        ("dlq-source-offset", str(record.offset).encode()),
        ("dlq-failed-at", failed_at.astimezone(UTC).isoformat().encode()),
    ]
    headers += letter.headers
    return headers


class DeadLetterPublisher:
    """Writes dead letters and waits for the broker's acks. The producer is owned by the
    caller (started and stopped in ``consumers.process``)."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        *,
        handler: str,
        group: str,
        extra_headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        self._producer = producer
        self.topic = topic
        self._handler = handler
        self._group = group
        self._extra = list(extra_headers)  # added to every letter (the relay names its subscription)

    async def publish(self, letters: Sequence[DeadLetter]) -> None:
        now = datetime.now(UTC)
        futures = [
            await self._producer.send(
                self.topic,
                key=letter.record.key,
                value=letter.record.value,
                headers=dead_letter_headers(letter, handler=self._handler, group=self._group, failed_at=now)
                + self._extra,
            )
            for letter in letters
        ]
        if futures:
            await asyncio.gather(*futures)
