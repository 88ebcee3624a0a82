"""Kafka records: encoding an event (or a quarantined payload) and decoding it back.

* key: ``target.repository``, UTF-8
* value: the event object as the registry sent it, compact JSON, unknown fields kept
* headers: ``event-id``, ``action``, ``repository``, ``content-type`` and the
  CloudEvents Kafka binary-mode headers ``ce_specversion``, ``ce_id``, ``ce_source``,
  ``ce_type``, ``ce_time``, ``ce_subject``; for an event from another registry also
  ``source-kind`` and, when the sender gave its own CloudEvents type, the extension
  attribute ``ce_sourcetype``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

import orjson

from common.contract.event import Event, InvalidEvent
from common.contract.routing import OTHER, TopicRouter
from common.contract.sources import DISTRIBUTION

CE_SPECVERSION = "1.0"
CE_TYPE_PREFIX = "org.cncf.distribution.registry."
CE_SOURCE_FALLBACK = "/registry-kafka-bridge"
CE_SOURCE_KIND_PREFIX = "/registry-kafka-bridge/sources/"
CONTENT_TYPE = "application/json"
# the largest record value sent (aiokafka's max_request_size and Kafka's default
# message.max.bytes are about 1 MiB; headers and batch overhead need the rest)
MAX_RECORD_BYTES = 1_000_000

Headers = list[tuple[str, bytes]]
"""Kafka record headers, as aiokafka takes and gives them."""
_SAFE_ACTION = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@lru_cache(maxsize=64)  # a handful of actions; bounded, since actions come from the wire
def ce_type_for(action: str) -> str:
    """``org.cncf.distribution.registry.<action>``; odd action names map to ``.other``."""
    return CE_TYPE_PREFIX + (action if _SAFE_ACTION.match(action) else OTHER)


def ce_source_for(event: Event) -> str:
    """A URI-reference naming the registry instance that emitted the event: ``//<addr>``,
    else ``/registry-kafka-bridge/sources/<kind>`` for another registry, else the fallback."""
    if event.source_addr:
        return f"//{event.source_addr}"
    kind = event.source_kind
    return CE_SOURCE_FALLBACK if kind == DISTRIBUTION else CE_SOURCE_KIND_PREFIX + kind


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    """One Kafka record ready to send."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers

    @property
    def size(self) -> int:
        """Bytes of key, value and headers (what Kafka's size limits count, less framing)."""
        key = len(self.key) if self.key is not None else 0
        return key + len(self.value) + sum(map(len, chain.from_iterable(self.headers)))


_CONTENT_TYPE, _CE_SPECVERSION = CONTENT_TYPE.encode(), CE_SPECVERSION.encode()


def event_headers(event: Event) -> Headers:
    event_id = event.id.encode()
    headers: Headers = [
        ("event-id", event_id),
        ("action", event.action.encode()),
        ("repository", event.repository.encode()),
        ("content-type", _CONTENT_TYPE),
        ("ce_specversion", _CE_SPECVERSION),
        ("ce_id", event_id),
        ("ce_source", ce_source_for(event).encode()),
        ("ce_type", ce_type_for(event.action).encode()),
        ("ce_subject", event.subject.encode()),
    ]
    if event.timestamp:
        headers.append(("ce_time", event.timestamp.encode()))
    kind = event.source_kind
    if kind != DISTRIBUTION:
        headers.append(("source-kind", kind.encode()))
        source_type = event.source_type
        if source_type:
            headers.append(("ce_sourcetype", source_type.encode()))
    return headers


def encode_event(event: Event, router: TopicRouter) -> OutgoingRecord:
    """The record for one valid event: topic by action, keyed by repository."""
    return OutgoingRecord(
        topic=router.topic_for(event.action),
        key=event.repository.encode(),
        value=orjson.dumps(event.raw),
        headers=event_headers(event),
    )


def encode_quarantine(payload: bytes, reason: str, router: TopicRouter, source: str = "") -> OutgoingRecord:
    """A record for ``<prefix>.invalid``: the raw bytes, with the reason in a header.

    A payload over :data:`MAX_RECORD_BYTES` keeps only its first ``MAX_RECORD_BYTES``
    bytes, and ``quarantine-truncated`` gives the original length.
    """
    headers: Headers = [("quarantine-reason", reason.encode("utf-8", "replace")[:1024])]
    if source:
        headers.append(("quarantine-source", source.encode("utf-8", "replace")[:256]))
    if len(payload) > MAX_RECORD_BYTES:
        headers.append(("quarantine-truncated", str(len(payload)).encode()))
        payload = payload[:MAX_RECORD_BYTES]
    return OutgoingRecord(topic=router.invalid_topic, key=None, value=payload, headers=headers)


def header_value(headers: Iterable[tuple[str, bytes]] | None, name: str) -> str | None:
    """The first header called ``name``, decoded as UTF-8 (None when absent)."""
    for key, value in headers or ():
        if key == name:
            return value.decode("utf-8", errors="replace") if value is not None else None
    return None


def decode_event(value: bytes | None) -> Event:
    """The event carried by one record's value; raises :class:`InvalidEvent`."""
    if value is None:
        raise InvalidEvent("record has no value")
    try:
        raw = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"record value is not JSON: {exc}") from None
    return Event.from_raw(raw)
