"""The wire contract: what the bridge writes to Kafka and what every consumer reads.

It holds the event model, topic routing, and record encoding and decoding. It imports
only the standard library and orjson, so consumers load it without Starlette or
uvicorn (``tests/test_contract_layering.py`` guards that).

Errors (all subclass :class:`ContractError`, a ``ValueError``)::

    ContractError
    ├── InvalidEnvelope   the body is not a JSON object with an ``events`` list
    └── InvalidEvent      one event lacks ``id``, ``action`` or ``target.repository``

Record layout (see ``docs/events.md``):

* topic: ``<prefix>.push``, ``<prefix>.pull`` or ``<prefix>.other`` (configurable map)
* key: ``target.repository``, UTF-8
* value: the event object as the registry sent it, compact JSON, unknown fields kept
* headers: ``event-id``, ``action``, ``repository``, ``content-type`` and the
  CloudEvents Kafka binary-mode headers ``ce_specversion``, ``ce_id``, ``ce_source``,
  ``ce_type``, ``ce_time``, ``ce_subject``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

KNOWN_ACTIONS = ("push", "pull", "mount", "delete")
TOPIC_HANDLERS = ("push", "pull", "other")
DEFAULT_PREFIX = "registry.events"
DEFAULT_ROUTES: Mapping[str, str] = {"push": "push", "pull": "pull"}
OTHER = "other"
INVALID_SUFFIX = "invalid"
DLQ_SUFFIX = "dlq"

CE_SPECVERSION = "1.0"
CE_TYPE_PREFIX = "org.cncf.distribution.registry."
CE_SOURCE_FALLBACK = "/registry-kafka-bridge"
CONTENT_TYPE = "application/json"
MANIFEST_HINTS = ("manifest", "image.index")
BLOB_MEDIA_TYPE = "application/octet-stream"
# orjson decodes 1024 levels of nesting but encodes only 254 (events are re-encoded)
ENCODABLE_DEPTH = 254
# the largest record value sent (aiokafka's max_request_size and Kafka's default
# message.max.bytes are about 1 MiB; headers and batch overhead need the rest)
MAX_RECORD_BYTES = 1_000_000
DEFAULT_MAX_EVENTS = 1000

Headers = list[tuple[str, bytes]]
_SAFE_ACTION = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class ContractError(ValueError):
    """Something read from the wire does not follow the contract."""


class InvalidEnvelope(ContractError):
    """The body is not a JSON object with an ``events`` list."""


class InvalidEvent(ContractError):
    """An event lacks a required field (``id``, ``action``, ``target.repository``)."""


def _text(value: Any) -> str | None:
    """A non-empty string, else None (3.x sends ``""`` for absent fields)."""
    return value if isinstance(value, str) and value else None


def _count(value: Any) -> int | None:
    """A positive int, else None (3.x sends ``0`` for absent sizes)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def _section(raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = raw.get(name)
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class Event:
    """One registry event, normalised (empty strings and 0 read as absent).

    ``raw`` is the event object exactly as decoded, unknown fields included.
    """

    id: str
    action: str
    repository: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    tag: str | None = None
    digest: str | None = None
    media_type: str | None = None
    size: int | None = None
    timestamp: str | None = None
    from_repository: str | None = None
    actor: str | None = None
    addr: str | None = None
    useragent: str | None = None
    method: str | None = None
    request_id: str | None = None
    source_addr: str | None = None
    instance_id: str | None = None

    @classmethod
    def from_raw(cls, raw: Any) -> Event:
        """Validate and normalise one decoded event object."""
        if not isinstance(raw, Mapping):
            raise InvalidEvent("event is not a JSON object")
        target, request = _section(raw, "target"), _section(raw, "request")
        actor, source = _section(raw, "actor"), _section(raw, "source")
        event_id, action, repository = _text(raw.get("id")), _text(raw.get("action")), None
        repository = _text(target.get("repository"))
        missing = [
            n for n, v in (("id", event_id), ("action", action), ("target.repository", repository)) if not v
        ]
        if missing:
            raise InvalidEvent("event lacks " + ", ".join(missing))
        assert event_id and action and repository  # narrowed by the check above
        return cls(
            id=event_id,
            action=action,
            repository=repository,
            raw=raw,
            tag=_text(target.get("tag")),
            digest=_text(target.get("digest")),
            media_type=_text(target.get("mediaType")),
            size=_count(target.get("size")) or _count(target.get("length")),
            timestamp=_text(raw.get("timestamp")),
            from_repository=_text(target.get("fromRepository")),
            actor=_text(actor.get("name")),
            addr=_text(request.get("addr")),
            useragent=_text(request.get("useragent")),
            method=_text(request.get("method")),
            request_id=_text(request.get("id")),
            source_addr=_text(source.get("addr")),
            instance_id=_text(source.get("instanceID")),
        )

    @property
    def is_manifest(self) -> bool:
        """True for manifest, OCI index and manifest-list events (not blobs)."""
        media_type = self.media_type or ""
        return any(hint in media_type for hint in MANIFEST_HINTS)

    @property
    def reference(self) -> str | None:
        """The tag when there is one, else the digest."""
        return self.tag or self.digest

    @property
    def subject(self) -> str:
        """``repo:tag``, ``repo@digest`` or ``repo``: the CloudEvents subject."""
        if self.tag:
            return f"{self.repository}:{self.tag}"
        if self.digest:
            return f"{self.repository}@{self.digest}"
        return self.repository


def parse_envelope(body: bytes, max_events: int = DEFAULT_MAX_EVENTS) -> list[Any]:
    """The ``events`` list of a notification envelope, items not yet validated.

    Refuses more than ``max_events`` events (the work per body stays bounded) and
    nesting deeper than the events can be re-encoded.
    """
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidEnvelope(f"body is not JSON: {exc}") from None
    if not isinstance(decoded, dict):
        raise InvalidEnvelope("envelope is not a JSON object")
    events = decoded.get("events")
    if not isinstance(events, list):
        raise InvalidEnvelope("envelope has no 'events' list")
    if len(events) > max_events:
        raise InvalidEnvelope(f"envelope has {len(events)} events, more than {max_events}")
    if body.count(b"[") + body.count(b"{") > ENCODABLE_DEPTH:  # cheap: only then can it be too deep
        try:
            orjson.dumps(events)
        except orjson.JSONEncodeError:
            raise InvalidEnvelope(f"envelope is nested deeper than {ENCODABLE_DEPTH} levels") from None
    return events


@dataclass(frozen=True, slots=True)
class TopicRouter:
    """Maps an action to its topic: ``<prefix>.<suffix>``.

    ``routes`` maps action → suffix; an action not in it goes to ``<prefix>.other``.
    """

    prefix: str = DEFAULT_PREFIX
    routes: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ROUTES))

    def topic_for(self, action: str) -> str:
        return f"{self.prefix}.{self.routes.get(action, OTHER)}"

    def handler_topic(self, handler: str) -> str:
        """The topic a consumer handler (push, pull, other) reads."""
        return f"{self.prefix}.{handler}"

    @property
    def topics(self) -> tuple[str, ...]:
        """Every topic events can land on, sorted."""
        return tuple(sorted({f"{self.prefix}.{s}" for s in (*self.routes.values(), OTHER)}))

    @property
    def invalid_topic(self) -> str:
        return f"{self.prefix}.{INVALID_SUFFIX}"

    @property
    def dlq_topic(self) -> str:
        return f"{self.prefix}.{DLQ_SUFFIX}"


def ce_type_for(action: str) -> str:
    """``org.cncf.distribution.registry.<action>``; odd action names map to ``.other``."""
    return CE_TYPE_PREFIX + (action if _SAFE_ACTION.match(action) else OTHER)


def ce_source_for(event: Event) -> str:
    """A URI-reference naming the registry instance that emitted the event."""
    return f"//{event.source_addr}" if event.source_addr else CE_SOURCE_FALLBACK


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
        return key + len(self.value) + sum(len(name) + len(value) for name, value in self.headers)


def event_headers(event: Event) -> Headers:
    headers: Headers = [
        ("event-id", event.id.encode()),
        ("action", event.action.encode()),
        ("repository", event.repository.encode()),
        ("content-type", CONTENT_TYPE.encode()),
        ("ce_specversion", CE_SPECVERSION.encode()),
        ("ce_id", event.id.encode()),
        ("ce_source", ce_source_for(event).encode()),
        ("ce_type", ce_type_for(event.action).encode()),
        ("ce_subject", event.subject.encode()),
    ]
    if event.timestamp:
        headers.append(("ce_time", event.timestamp.encode()))
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
