"""zot's event sink: CloudEvents over HTTP, binary mode (``Ce-*`` headers, the body is the
data object); structured mode is read too.

Types: ``zotregistry.image.updated`` (push), ``zotregistry.image.deleted`` (delete);
``zotregistry.repository.created``, ``zotregistry.image.lint_failed`` and
``zotregistry.image.scanned`` keep their own action (``repository_created``, …) on
``<prefix>.other``. Data: ``{name, reference, digest, mediaType, manifest, actor: {name},
request: {addr, method, useragent}}``; ``reference`` is a tag, or the digest.
Authentication: the sink's credentials, ``Basic user:password`` or ``Bearer <token>``.
zot sends once and never retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.sources.auth import basic_or_bearer
from bridge.sources.model import Normalised, Source, SourceRequest, Unusable
from bridge.sources.shape import (
    action_name,
    digest_of,
    event_object,
    json_body,
    section,
    synthetic_id,
    tag_of,
    text,
)
from bridge.sources.times import rfc3339

KIND = "zot"
PREFIX = "zotregistry."
ACTIONS = {"zotregistry.image.updated": "push", "zotregistry.image.deleted": "delete"}


def _attributes(request: SourceRequest, body: Any) -> tuple[Mapping[str, Any], Any]:
    """The CloudEvent's attributes and its data, in binary or structured mode."""
    if request.header("ce-type") is not None:
        names = ("id", "type", "time", "source")
        return {name: request.header("ce-" + name) for name in names}, body
    if isinstance(body, Mapping) and "specversion" in body:
        return body, body.get("data")
    raise Unusable("not a CloudEvent: no Ce-Type header and no specversion")


def normalise(request: SourceRequest) -> Normalised:
    attributes, data = _attributes(request, json_body(request))
    if not isinstance(data, Mapping):
        raise Unusable("the event data is not a JSON object")
    kind = text(attributes.get("type"))
    if kind is None:
        raise Unusable("the CloudEvent has no type")
    action = ACTIONS.get(kind) or action_name(kind.removeprefix(PREFIX).replace(".", "_"))
    digest, reference = digest_of(data.get("digest")), data.get("reference")
    if action in ("push", "delete") and digest is None and tag_of(reference) is None:
        raise Unusable("an image event with neither digest nor tag")
    request_section = section(data, "request")
    event = event_object(
        request,
        data,
        event_id=text(attributes.get("id")) or synthetic_id(KIND, kind, data.get("name"), digest, reference),
        action=action,
        repository=data.get("name"),
        tag=tag_of(reference),
        digest=digest or digest_of(reference),
        media_type=text(data.get("mediaType")),
        actor=text(section(data, "actor").get("name")),
        timestamp=rfc3339(attributes.get("time")),
        source_type=kind,
        http={key: request_section.get(key) for key in ("addr", "method", "useragent")},
    )
    return Normalised([event])


SOURCE = Source(KIND, basic_or_bearer, normalise)
