"""Sonatype Nexus Repository 3: the repository webhook of event type ``component``
(``X-Nexus-Webhook-ID: rm:repository:component``), docker format.

Body: ``{"timestamp": "…+0000", "nodeId", "initiator": "user/ip", "repositoryName",
"action": "CREATED"|"UPDATED"|"DELETED", "component": {"format": "docker", "name":
"team/app", "version": "1.4.2"}}``: the tag, no digest. The id is
``X-Nexus-Webhook-Delivery``. Nexus sends once and never retries. Asset, audit and
non-docker events are ignored. Authentication: ``X-Nexus-Webhook-Signature``, the hex
HMAC-SHA1 of the body; with ``REGBRIDGE_SOURCE_MAX_AGE_SECONDS`` set, the signed
``timestamp`` must also be that recent, so a captured request cannot be replayed later (off
by default: Nexus never retries, so a skewed clock would lose events).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import orjson

from bridge.sources.auth import MISSING, WRONG_SIGNATURE, signed_by
from bridge.sources.model import Credentials, Normalised, Source, SourceRequest, Unusable, ignore
from bridge.sources.shape import event_object, json_body, section, synthetic_id, tag_of, text
from bridge.sources.times import rfc3339

KIND = "nexus"
ACTIONS = {"CREATED": "push", "UPDATED": "push", "DELETED": "delete"}
COMPONENT = "rm:repository:component"


def authenticate(request: SourceRequest, credentials: Credentials) -> str | None:
    presented = request.header("x-nexus-webhook-signature")
    if presented is None:
        return MISSING
    if not signed_by(presented, credentials, request.body, "sha1"):
        return WRONG_SIGNATURE
    return _fresh(request, credentials.max_age)


def _fresh(request: SourceRequest, max_age: float) -> str | None:
    """The signed timestamp is recent (``max_age`` 0 turns the check off)."""
    if max_age <= 0:
        return None
    try:
        stamp = rfc3339(orjson.loads(request.body).get("timestamp"))
    except (orjson.JSONDecodeError, AttributeError):
        return None  # not JSON: authentic, and quarantined by normalise
    if stamp is None:
        return None
    age = (request.received_at - datetime.fromisoformat(stamp)).total_seconds()
    return None if abs(age) <= max_age else f"signed timestamp {stamp} is {age:.0f}s old (replayed?)"


def normalise(request: SourceRequest) -> Normalised:
    hook = request.header("x-nexus-webhook-id")
    body = json_body(request)
    if not isinstance(body, Mapping):
        raise Unusable("body is not a JSON object")
    if (hook is not None and hook.lower() != COMPONENT) or "component" not in body:
        return ignore(f"not a component event ({hook or 'no component'})")
    component = section(body, "component")
    if str(component.get("format")).lower() != "docker":
        return ignore(f"a {component.get('format')!r} component, not docker")
    action = ACTIONS.get(str(body.get("action")))
    if action is None:
        raise Unusable(f"unknown component action {body.get('action')!r}")
    tag = tag_of(component.get("version"))
    if tag is None:
        raise Unusable("the component has no version (tag)")
    initiator = text(body.get("initiator")) or ""
    actor, _, addr = initiator.partition("/")
    stable = (body.get("nodeId"), body.get("timestamp"), action, component.get("id"), component.get("name"))
    event = event_object(
        request,
        body,
        event_id=request.header("x-nexus-webhook-delivery") or synthetic_id(KIND, *stable, tag),
        action=action,
        repository=component.get("name"),
        tag=tag,
        actor=actor or None,
        timestamp=rfc3339(body.get("timestamp")),
        http={"addr": addr or None},
    )
    return Normalised([event])


SOURCE = Source(KIND, authenticate, normalise)
