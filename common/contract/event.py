"""The event model: one registry event, normalised, and the envelope that carries events.

Errors (all subclass :class:`ContractError`, a ``ValueError``)::

    ContractError
    ├── InvalidEnvelope   the body is not a JSON object with an ``events`` list
    └── InvalidEvent      one event lacks ``id``, ``action`` or ``target.repository``
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeGuard

import orjson

from common.contract.sources import DISTRIBUTION

KNOWN_ACTIONS = ("push", "pull", "mount", "delete")
MANIFEST_HINTS = ("manifest", "image.index")
BLOB_MEDIA_TYPE = "application/octet-stream"
# orjson decodes 1024 levels of nesting but encodes only 254 (events are re-encoded)
ENCODABLE_DEPTH = 254
DEFAULT_MAX_EVENTS = 1000


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


_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)`` without the ABC check for the plain dicts JSON decodes
    to (measured: five such checks were a fifth of :meth:`Event.from_raw`)."""
    return type(value) is dict or isinstance(value, Mapping)


def _section(raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = raw.get(name)
    return value if _is_mapping(value) else _EMPTY


@dataclass(frozen=True, slots=True)
class Event:
    """One registry event, normalised (empty strings and 0 read as absent).

    ``raw`` is the event object exactly as decoded, unknown fields included.
    :attr:`source_kind` and :attr:`source_type` are read from it when asked for (the
    distribution hot path never pays for them).
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
        if not _is_mapping(raw):
            raise InvalidEvent("event is not a JSON object")
        target, request = _section(raw, "target"), _section(raw, "request")
        actor, source = _section(raw, "actor"), _section(raw, "source")
        event_id, action = _text(raw.get("id")), _text(raw.get("action"))
        repository = _text(target.get("repository"))
        if not (event_id and action and repository):
            present = (("id", event_id), ("action", action), ("target.repository", repository))
            missing = [name for name, value in present if not value]
            raise InvalidEvent("event lacks " + ", ".join(missing))
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
    def source_kind(self) -> str:
        """``source.kind``: the registry kind (:data:`~common.contract.sources.DISTRIBUTION`
        when absent, as in every event of ``POST /events``)."""
        source = self.raw.get("source")
        kind = source.get("kind") if isinstance(source, dict) else None  # decoded JSON: a dict
        return kind if isinstance(kind, str) and kind else DISTRIBUTION

    @property
    def source_type(self) -> str | None:
        """``source.type``: the sender's own CloudEvents type, when it has one."""
        return _text(_section(self.raw, "source").get("type"))

    @property
    def is_manifest(self) -> bool:
        """True for manifest, OCI index and manifest-list events (not blobs). Every sender
        but distribution reports artifacts only, never blobs, often without a media type."""
        if self.source_kind != DISTRIBUTION:
            return True
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
