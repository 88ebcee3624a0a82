"""Google Artifact Registry (and Container Registry) through a Pub/Sub push subscription
of the ``gcr`` topic.

Wrapped (the default): ``{"message": {"data": <base64 JSON>, "messageId", "publishTime"},
"subscription"}``; unwrapped (payload unwrapping): the JSON itself, with the message id and
publish time in ``x-goog-pubsub-message-id``/``x-goog-pubsub-publish-time`` when "write
metadata" is on (without it the id is synthesised from the content and the window of the
receive time). The JSON: ``{"action": "INSERT"|"DELETE", "digest":
"host/project/repo/image@sha256:…", "tag": "host/project/repo/image:tag"}``. The
repository is the path between the host and ``@`` or ``:``. Pub/Sub acks 102, 200, 201,
202 and 204 and redelivers anything else until the message expires. Authentication: the
Google-signed OIDC token in ``Authorization: Bearer`` (``pushtoken.py``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import orjson

from bridge.sources.model import Credentials, Normalised, Source, SourceRequest, Unusable, ignore
from bridge.sources.shape import digest_of, event_object, json_body, section, synthetic_id, tag_of, text
from bridge.sources.times import rfc3339

KIND = "gar"
ACTIONS = {"INSERT": "push", "DELETE": "delete"}


def authenticate(request: SourceRequest, credentials: Credentials) -> str | None:
    if credentials.verifier is None:
        return "no JWKS configured"
    return credentials.verifier.check(request.header("authorization"))


def _message(request: SourceRequest, body: Any) -> tuple[Any, str | None, str | None]:
    """The Artifact Registry JSON, the message id and the publish time."""
    if isinstance(body, Mapping) and "message" in body:
        message = section(body, "message")
        try:
            data = orjson.loads(base64.b64decode(str(message.get("data") or ""), validate=True))
        except (binascii.Error, ValueError):
            raise Unusable("message.data is not base64 of JSON") from None
        message_id = text(message.get("messageId")) or text(message.get("message_id"))
        published = text(message.get("publishTime")) or text(message.get("publish_time"))
        return data, message_id, published
    return body, request.header("x-goog-pubsub-message-id"), request.header("x-goog-pubsub-publish-time")


def split_reference(reference: str, separator: str) -> tuple[str | None, str | None, str | None]:
    """``host/path<separator>value`` → (host, path, value); Nones when it is not one."""
    host, slash, rest = reference.partition("/")
    if not slash:
        return None, None, None
    path, found, value = rest.rpartition(separator)
    if not found or not path or not value or (separator == ":" and "/" in value):
        return None, None, None
    return host, path, value


def normalise(request: SourceRequest) -> Normalised:
    body = json_body(request)
    data, message_id, published = _message(request, body)
    if not isinstance(data, Mapping):
        raise Unusable("the Artifact Registry message is not a JSON object")
    action = ACTIONS.get(str(data.get("action")))
    if action is None:
        return ignore(f"action {data.get('action')!r} changes no image")
    digest_ref, tag_ref = text(data.get("digest")) or "", text(data.get("tag")) or ""
    host, repository, digest = split_reference(digest_ref, "@")
    tag_host, tag_repository, tag = split_reference(tag_ref, ":")
    if digest_of(digest) is None and tag_of(tag) is None:
        raise Unusable("neither a digest nor a tag reference")
    if repository and tag_repository and repository != tag_repository:
        raise Unusable("the digest and tag references name different images")
    stable = (action, digest_ref, tag_ref, request.window)
    event = event_object(
        request,
        body,
        event_id=message_id or synthetic_id(KIND, *stable),
        action=action,
        repository=repository or tag_repository,
        tag=tag_of(tag),
        digest=digest_of(digest),
        timestamp=rfc3339(published),
        addr=host or tag_host,
    )
    return Normalised([event])


SOURCE = Source(KIND, authenticate, normalise)
