"""How the consumer tests put registry events on the topics. Two ways, on purpose:

* :func:`post_session` is the real pipeline: it runs the real bridge (uvicorn on a free
  port, ``tests.support.bridge.running_bridge``) against the test broker and POSTs every
  body of a captured session, in order, with its recorded headers, asserting that each
  POST was answered 2xx. The bridge deduplicates the registry's retries (same event id,
  see ``bridge/dedupe.py``), so only the distinct events land on the topics. The session
  replays and the dashboard tests use it.
* :func:`publish_to_kafka` writes straight to the broker what the bridge would write for
  each event (``encode_event`` with the same :class:`TopicRouter`), bypassing the bridge
  and so its dedupe window. The tests of redelivery (a duplicate the bridge would hide),
  poison records, outages and killed consumers use it, as does the benchmark.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer

from common.contract import Event, OutgoingRecord, TopicRouter, encode_event, parse_envelope
from tests.support.bridge import TOKEN, bridge_settings, counts, running_bridge

# Set by the HTTP client itself, or replaced (Authorization) for the replay.
_NOT_REPLAYED = {"host", "content-length", "authorization"}


def replay_headers(recorded: Mapping[str, str], token: str = TOKEN) -> dict[str, str]:
    """A recorded POST's headers for the replay: Content-Type and the rest as recorded,
    ``Authorization`` set to the test bridge's token on every POST. (The session's second
    registry, ``vm:15110``, was configured without one; pointed at this bridge, an
    operator configures the token there too.)"""
    headers = {name: value for name, value in recorded.items() if name.lower() not in _NOT_REPLAYED}
    headers["Authorization"] = f"Bearer {token}"
    return headers


@dataclass(frozen=True)
class Replayed:
    """What the bridge answered to a replayed session."""

    statuses: list[int]
    outcomes: Counter[str]  # published, duplicates, filtered, quarantined (x-regbridge-outcome)


async def post_session(bootstrap: str, prefix: str, session: Sequence[dict[str, Any]]) -> Replayed:
    """POST every body of ``session`` to a real bridge publishing to ``bootstrap`` under
    ``prefix``, one at a time, in order; every answer must be 2xx.

    The publish budget is raised from 0.5 s to 10 s: the test broker's first produce to a
    fresh topic can be slow, and this test is about what lands, not about latency.
    """
    statuses: list[int] = []
    outcomes: Counter[str] = Counter()
    settings = bridge_settings(bootstrap, prefix, publish_timeout=10.0)
    async with running_bridge(settings) as bridge:
        for post in session:
            response = await bridge.post(str(post["body"]).encode(), replay_headers(post["headers"]))
            assert 200 <= response.status_code < 300, (post["seq"], response.status_code, response.text)
            statuses.append(response.status_code)
            outcomes.update(counts(response))
    return Replayed(statuses, outcomes)


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


async def publish_to_kafka(bootstrap: str, prefix: str, bodies: Iterable[bytes]) -> list[OutgoingRecord]:
    """Every event of every body, as the bridge records it, straight to the broker (no
    bridge, so no dedupe: an event sent twice lands twice)."""
    records = records_for(bodies, TopicRouter(prefix=prefix))
    await send_records(bootstrap, records)
    return records
