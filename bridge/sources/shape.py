"""Building the distribution-shaped event object every sender is normalised into, and
reading the sender's fields defensively (any JSON may arrive).

The object has the fields ``common.contract.Event`` reads (``id``, ``timestamp``,
``action``, ``target``, ``actor``, ``request``, ``source``), absent values left out, and
``source`` says where it came from::

    "source": {"kind": "harbor", "addr": "harbor.acme.internal",
               "type": "harbor.artifact.pushed", "receivedAt": "…Z", "payload": {…}}

``payload`` is the sender's body as decoded JSON (docs/events.md).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from bridge.sources.model import SourceRequest, Unusable
from bridge.sources.times import stamp
from common.contract import ENCODABLE_DEPTH

_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
_HEX64 = re.compile(r"^[a-f0-9]{64}$")
_NOT_ACTION = re.compile(r"[^a-z0-9_]+")
_MAX_TEXT = 1024
_ID_NAMESPACE = uuid.UUID("6f1d2a4e-5b3c-4e8f-9a7d-0c2b1e3f4a5d")  # this project's, fixed for ever


def json_body(request: SourceRequest) -> Any:
    """The body as JSON; raises :class:`Unusable`. The payload is kept inside the event
    (two levels down), so it must re-encode there too."""
    try:
        decoded = orjson.loads(request.body)
    except orjson.JSONDecodeError as exc:
        raise Unusable(f"body is not JSON: {exc}") from None
    if request.body.count(b"[") + request.body.count(b"{") > ENCODABLE_DEPTH - 4:
        try:
            orjson.dumps({"source": {"payload": decoded}})
        except orjson.JSONEncodeError:
            raise Unusable(f"body is nested deeper than {ENCODABLE_DEPTH - 4} levels") from None
    return decoded


def text(value: Any, limit: int = _MAX_TEXT) -> str | None:
    """A non-blank string of at most ``limit`` characters, stripped; else None."""
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    return stripped if stripped and len(stripped) <= limit else None


def count(value: Any) -> int | None:
    """A positive integer (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def section(mapping: Any, name: str) -> Mapping[str, Any]:
    """``mapping[name]`` when both are JSON objects, else an empty mapping."""
    if not isinstance(mapping, Mapping):
        return {}
    value = mapping.get(name)
    return value if isinstance(value, Mapping) else {}


def is_digest(value: str) -> bool:
    return _DIGEST.match(value) is not None


def digest_of(value: Any) -> str | None:
    """``algorithm:hex`` as given, ``sha256:<hex>`` for bare 64-hex; else None."""
    found = text(value)
    if found is None:
        return None
    if _HEX64.match(found):
        return "sha256:" + found
    return found if is_digest(found) else None


def tag_of(value: Any) -> str | None:
    """A tag, or None for "untagged": empty, or a digest repeated in the tag field."""
    found = text(value, 128)
    return None if found is None or is_digest(found) else found


def host_of(reference: Any) -> str | None:
    """The registry host of ``host/path…`` (``harbor.acme.internal``), else None."""
    found = text(reference)
    if found is None or "/" not in found:
        return None
    host = found.split("/", 1)[0]
    if host == "localhost" or "." in host or ":" in host:
        return host
    return None


def action_name(value: str) -> str:
    """A sender's event type as an action name: ``SCANNING_COMPLETED`` → ``scanning_completed``."""
    return _NOT_ACTION.sub("_", value.lower()).strip("_")[:32] or "other"


def synthetic_id(kind: str, *parts: Any) -> str:
    """A stable id (a UUID 5) from fields that a sender's retry repeats exactly."""
    return str(uuid.uuid5(_ID_NAMESPACE, "\x1f".join([kind, *(str(part) for part in parts)])))


def event_object(
    request: SourceRequest,
    payload: Any,
    *,
    event_id: str,
    action: str,
    repository: Any,
    tag: str | None = None,
    digest: str | None = None,
    media_type: str | None = None,
    size: int | None = None,
    actor: str | None = None,
    timestamp: str | None = None,
    addr: str | None = None,
    source_type: str | None = None,
    http: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One distribution-shaped event; raises :class:`Unusable` without a repository.
    ``timestamp`` None stamps the receive time; ``http`` is the ``request`` section."""
    name = text(repository, 255)
    if name is None:
        raise Unusable("the event names no repository")
    received = stamp(request.received_at)
    target = _present(repository=name, tag=tag, digest=digest, mediaType=media_type, size=size)
    event: dict[str, Any] = {"id": event_id, "timestamp": timestamp or received, "action": action}
    event["target"] = target
    if actor:
        event["actor"] = {"name": actor}
    wanted = _present(**{key: text(value) for key, value in (http or {}).items()})
    if wanted:
        event["request"] = wanted
    event["source"] = _present(kind=request.kind, addr=addr, type=source_type, receivedAt=received)
    event["source"]["payload"] = payload
    return event


def _present(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}
