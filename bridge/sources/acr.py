"""Azure Container Registry: the classic webhook, and Event Grid (CloudEvents 1.0 or the
Event Grid schema) with its validation handshake.

* Classic webhook: one distribution-like object ``{id, timestamp, action: push|delete,
  target: {mediaType, size, digest, repository, tag}, request: {id, host, method,
  useragent}}``; ``ping`` is ignored, chart and quarantine actions keep their own action.
* Event Grid: one event or a JSON array of them; ``type`` (or ``eventType``)
  ``Microsoft.ContainerRegistry.ImagePushed``/``ImageDeleted`` and ``data`` is the
  classic object. The record id is Event Grid's ``id``, stable across its retries (the
  inner ``data.id`` is ACR's own). Event Grid is at-least-once and unordered.
* Validation: the Event Grid schema sends ``Microsoft.EventGrid.SubscriptionValidationEvent``
  (answered ``{"validationResponse": <code>}``), the CloudEvents schema an ``OPTIONS``
  request (answered by the endpoint with ``WebHook-Allowed-Origin``). Neither carries
  delivery properties, so both are answered before authentication; nothing is published.

Authentication: the custom header configured on the webhook or as an Event Grid delivery
property (``REGBRIDGE_SOURCE_ACR_HEADER``, ``Authorization`` by default) carries the secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from bridge.sources.auth import static_header
from bridge.sources.model import Normalised, Reply, Source, SourceRequest, Unusable, ignore
from bridge.sources.shape import (
    action_name,
    count,
    digest_of,
    event_object,
    json_body,
    section,
    synthetic_id,
    tag_of,
    text,
)
from bridge.sources.times import rfc3339

KIND = "acr"
TYPE_PREFIX = "Microsoft.ContainerRegistry."
VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent"
TYPES = {
    "ImagePushed": "push",
    "ImageDeleted": "delete",
    "ChartPushed": "chart_push",
    "ChartDeleted": "chart_delete",
}
JSON = (b"content-type", b"application/json")


def handshake(request: SourceRequest) -> Reply | None:
    """The Event Grid schema's validation event: echo its code."""
    if request.method != "POST" or b"SubscriptionValidation" not in request.body:
        return None
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return None
    events = body if isinstance(body, list) else [body]
    for event in events:
        if isinstance(event, Mapping) and event.get("eventType") == VALIDATION:
            code = text(section(event, "data").get("validationCode"))
            if code is not None:
                return Reply(200, orjson.dumps({"validationResponse": code}), [JSON])
    return None


def normalise(request: SourceRequest) -> Normalised:
    body = json_body(request)
    if isinstance(body, list):
        return _grid(request, body, body)
    if not isinstance(body, Mapping):
        raise Unusable("body is neither a JSON object nor an array")
    if "specversion" in body or "eventType" in body:
        return _grid(request, [body], body)
    return _classic(request, body)


def _classic(request: SourceRequest, body: Mapping[str, Any]) -> Normalised:
    action = text(body.get("action"))
    if action is None:
        raise Unusable("the webhook event has no action")
    if action == "ping":
        return ignore("ACR webhook ping")
    event_id = text(body.get("id")) or synthetic_id(KIND, body.get("timestamp"), action, body.get("target"))
    return Normalised([_event(request, body, body, event_id, action_name(action), None)])


def _grid(request: SourceRequest, events: list[Any], payload: Any) -> Normalised:
    found: list[dict[str, Any]] = []
    skipped: list[str] = []
    for event in events:
        if not isinstance(event, Mapping):
            raise Unusable("an Event Grid event is not a JSON object")
        kind = text(event.get("type")) or text(event.get("eventType"))
        action = TYPES.get((kind or "").removeprefix(TYPE_PREFIX)) if kind else None
        if action is None:
            skipped.append(kind or "untyped")
            continue
        data = section(event, "data")
        event_id = text(event.get("id")) or synthetic_id(KIND, kind, event.get("subject"), data.get("id"))
        time = text(event.get("time")) or text(event.get("eventTime"))
        found.append(_event(request, data, payload, event_id, action, kind, time))
    if not found:
        if any(kind == VALIDATION for kind in skipped):
            raise Unusable("a subscription validation event without a validationCode")
        return ignore(f"no image event ({', '.join(skipped[:3])})")
    return Normalised(found)


def _event(
    request: SourceRequest,
    data: Mapping[str, Any],
    payload: Any,
    event_id: str,
    action: str,
    source_type: str | None,
    grid_time: str | None = None,
) -> dict[str, Any]:
    target, http = section(data, "target"), section(data, "request")
    digest, tag = digest_of(target.get("digest")), tag_of(target.get("tag"))
    if action in ("push", "delete") and digest is None and tag is None:
        raise Unusable("an image event with neither digest nor tag")
    return event_object(
        request,
        payload,
        event_id=event_id,
        action=action,
        repository=target.get("repository"),
        tag=tag,
        digest=digest,
        media_type=text(target.get("mediaType")),
        size=count(target.get("size")) or count(target.get("length")),
        timestamp=rfc3339(data.get("timestamp")) or rfc3339(grid_time),
        addr=text(http.get("host")),
        source_type=source_type,
        http={key: http.get(key) for key in ("id", "host", "method", "useragent")},
    )


SOURCE = Source(KIND, static_header, normalise, handshake=handshake)
