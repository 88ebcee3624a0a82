"""Dead letters of the relay, on ``<prefix>.dlq``.

A dead letter keeps the original record's key, value and headers, and gains the same
``dlq-*`` headers as the consumers' dead letters, plus the relay's own:

============================  =====================================================
``dlq-error``                 the last error, e.g. ``HTTP 503: busy`` (at most 1 KiB)
``dlq-error-type``            ``DeliveryFailed``, or ``InvalidEvent`` for an undecodable record
``dlq-handler``               ``relay``
``dlq-subscription``          the subscription that gave up
``dlq-group``                 its consumer group
``dlq-attempts``              HTTP attempts made
``dlq-http-status``           the last HTTP status (absent when no answer came back)
``dlq-source-topic``          where the record was read, with ``-partition`` and ``-offset``
``dlq-failed-at``             when it was given up (RFC 3339, UTC)
============================  =====================================================
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from consumers.relay.errors import DeliveryFailed
from consumers.relay.subscriber import Letter

Headers = list[tuple[str, bytes]]
MAX_ERROR_BYTES = 1024
HANDLER = "relay"


def relay_headers(letter: Letter, subscription: str) -> Headers:
    """The relay's own headers for one letter."""
    headers: Headers = [("dlq-subscription", subscription.encode())]
    if isinstance(letter.error, DeliveryFailed) and letter.error.status is not None:
        headers.append(("dlq-http-status", str(letter.error.status).encode()))
    return headers


def dead_letter_headers(letter: Letter, *, subscription: str, group: str, failed_at: datetime) -> Headers:
    record = letter.record
    error = str(letter.error).encode()[:MAX_ERROR_BYTES] or type(letter.error).__name__.encode()
    headers: Headers = [(key, value) for key, value in (record.headers or ())]
    headers += [
        ("dlq-error", error),
        ("dlq-error-type", type(letter.error).__name__.encode()),
        ("dlq-handler", HANDLER.encode()),
        ("dlq-group", group.encode()),
        ("dlq-attempts", str(letter.attempts).encode()),
        ("dlq-source-topic", str(record.topic).encode()),
        ("dlq-source-partition", str(record.partition).encode()),
        ("dlq-source-offset", str(record.offset).encode()),
        ("dlq-failed-at", failed_at.astimezone(UTC).isoformat().encode()),
    ]
    return headers + relay_headers(letter, subscription)


class DeadLetterWriter:
    """Writes one subscription's dead letters and waits for the acks. The producer belongs to
    the caller and may be shared by every subscription."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, *, subscription: str, group: str) -> None:
        self._producer, self.topic = producer, topic
        self._subscription, self._group = subscription, group

    async def publish(self, letters: Sequence[Letter]) -> None:
        now = datetime.now(UTC)
        futures = [
            await self._producer.send(
                self.topic,
                key=letter.record.key,
                value=letter.record.value,
                headers=dead_letter_headers(
                    letter, subscription=self._subscription, group=self._group, failed_at=now
                ),
            )
            for letter in letters
        ]
        if futures:
            await asyncio.gather(*futures)
