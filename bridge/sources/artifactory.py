"""JFrog Artifactory webhooks, docker domain: ``pushed``, ``deleted`` (and ``promoted``,
kept as action ``promote`` on ``<prefix>.other``).

Body: ``{"domain": "docker", "event_type": "pushed", "data": {"repo_key", "path",
"sha256", "size", "image_name", "tag", …}, "jpd_origin", "subscription_key"}``:
``data.sha256`` is the manifest's digest (bare hex), ``size`` the manifest's. There is no
time, no actor and no id: the id is synthesised from the event's fields and the window of
the receive time (``REGBRIDGE_SOURCE_ID_WINDOW_SECONDS``). Other domains are ignored.
Authentication: ``X-JFrog-Event-Auth`` holds the secret itself or, with "use secret for
signing", the hex HMAC-SHA256 of the body (``sha256=`` prefix allowed; the ``sha1=<hex
HMAC-SHA1>`` form some tools expect is accepted too).
"""

from __future__ import annotations

from collections.abc import Mapping

from bridge.sources.auth import MISSING, WRONG, known, signed_by
from bridge.sources.model import Credentials, Normalised, Source, SourceRequest, Unusable, ignore
from bridge.sources.shape import (
    count,
    digest_of,
    event_object,
    host_of,
    json_body,
    synthetic_id,
    tag_of,
    text,
)

KIND = "artifactory"
ACTIONS = {"pushed": "push", "deleted": "delete", "promoted": "promote"}


def authenticate(request: SourceRequest, credentials: Credentials) -> str | None:
    presented = request.header("x-jfrog-event-auth")
    if presented is None:
        return MISSING
    algorithm, _, value = presented.rpartition("=")
    plain = known(presented, credentials)
    if algorithm.lower() in ("sha1", "sha256"):
        hashed = signed_by(value, credentials, request.body, algorithm.lower())
    else:
        hashed = signed_by(presented, credentials, request.body, "sha256")
    return None if plain or hashed else WRONG


def normalise(request: SourceRequest) -> Normalised:
    body = json_body(request)
    if not isinstance(body, Mapping):
        raise Unusable("body is not a JSON object")
    if body.get("domain") != "docker":
        return ignore(f"the {body.get('domain')!r} domain has no image events")
    event_type = text(body.get("event_type"))
    action = ACTIONS.get(event_type or "")
    if action is None:
        raise Unusable(f"unknown docker event_type {event_type!r}")
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise Unusable("no data object")
    digest, tag = digest_of(data.get("sha256")), tag_of(data.get("tag"))
    if digest is None and tag is None:
        raise Unusable("neither sha256 nor tag")
    origin = body.get("jpd_origin")
    stable = (origin, data.get("repo_key"), event_type, data.get("image_name"), data.get("tag"), digest)
    event = event_object(
        request,
        body,
        event_id=synthetic_id(KIND, *stable, request.window),
        action=action,
        repository=data.get("image_name"),
        tag=tag,
        digest=digest,
        size=count(data.get("size")),
        addr=host_of(f"{origin}/".split("://", 1)[-1]) if isinstance(origin, str) else None,
    )
    return Normalised([event])


SOURCE = Source(KIND, authenticate, normalise)
