"""Publishing registry events to the broker exactly as the bridge writes them.

:func:`publish_events` is the ONE place the consumer tests put events on the topics:
for every event of every POST it sends ``encode_event(event, TopicRouter(prefix))``,
the record the bridge produces (topic by action, key, value and headers). It does not
apply the bridge's duplicate window, so a registry retry of the same event id lands
twice: the consumers must count it once. To run the tests through the real bridge,
replace the body of this function with POSTs of ``bodies`` to ``registry-bridge serve``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from bridge.contract import Event, OutgoingRecord, TopicRouter, encode_event, parse_envelope


def session_bodies(session: Iterable[dict[str, Any]]) -> list[bytes]:
    """The raw bodies of a captured session (``fixture_session``), in order."""
    return [str(post["body"]).encode() for post in session]


def records_for(bodies: Iterable[bytes], router: TopicRouter) -> list[OutgoingRecord]:
    return [encode_event(Event.from_raw(raw), router) for body in bodies for raw in parse_envelope(body)]


async def send_records(bootstrap: str, records: Sequence[OutgoingRecord]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=5
    )
    await producer.start()
    try:
        futures = [await producer.send(r.topic, key=r.key, value=r.value, headers=r.headers) for r in records]
        for future in futures:
            await future
    finally:
        await producer.stop()


async def publish_events(bootstrap: str, prefix: str, bodies: Iterable[bytes]) -> list[OutgoingRecord]:
    """Publish every event of every notification body as the bridge would."""
    records = records_for(bodies, TopicRouter(prefix=prefix))
    await send_records(bootstrap, records)
    return records
