"""GitHub Container Registry: the ``package`` webhook event and the legacy
``registry_package`` one (``X-GitHub-Event``), action ``published`` (or ``updated``).

The image is ``package.package_version.container_metadata``: ``tag.name`` (``""`` for an
untagged platform manifest of a multi-arch push), ``manifest.digest``, ``media_type`` and
``size``. The repository is ``owner.login/package.name`` lower-cased, as OCI references
are. The id is ``X-GitHub-Delivery`` (kept on a manual redelivery). GitHub sends nothing
when a version is deleted, and never redelivers on its own. ``ping`` and packages that are
not containers are ignored. Authentication: ``X-Hub-Signature-256`` (HMAC-SHA256 of the
body), or the legacy ``X-Hub-Signature`` (HMAC-SHA1) when only that one is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.sources.auth import MISSING, WRONG_SIGNATURE, signed_by
from bridge.sources.model import Credentials, Normalised, Source, SourceRequest, Unusable, ignore
from bridge.sources.shape import (
    count,
    digest_of,
    event_object,
    host_of,
    json_body,
    section,
    synthetic_id,
    tag_of,
    text,
)
from bridge.sources.times import rfc3339

KIND = "ghcr"
EVENTS = ("package", "registry_package")
ACTIONS = {"published": "push", "updated": "push"}
CONTAINER_TYPES = ("container", "docker")


def authenticate(request: SourceRequest, credentials: Credentials) -> str | None:
    for header, prefix, algorithm in (
        ("x-hub-signature-256", "sha256=", "sha256"),
        ("x-hub-signature", "sha1=", "sha1"),
    ):
        presented = request.header(header)
        if presented is not None:
            if not presented.lower().startswith(prefix):
                return WRONG_SIGNATURE
            ok = signed_by(presented[len(prefix) :], credentials, request.body, algorithm)
            return None if ok else WRONG_SIGNATURE
    return MISSING


def normalise(request: SourceRequest) -> Normalised:
    event_name = request.header("x-github-event")
    body = json_body(request)
    if not isinstance(body, Mapping):
        raise Unusable("body is not a JSON object")
    if event_name is None:
        event_name = next((name for name in EVENTS if name in body), None)
    if event_name not in EVENTS:
        return ignore(f"GitHub {event_name or 'unnamed'} events are not package events")
    package = section(body, event_name)
    kind = str(package.get("package_type") or package.get("ecosystem") or "").lower()
    if not package or kind not in CONTAINER_TYPES:
        return ignore(f"not a container package ({kind or 'no package_type'})")
    action = ACTIONS.get(str(body.get("action")))
    if action is None:
        return ignore(f"package action {body.get('action')!r} changes no image")
    return Normalised([_event(request, body, package)])


def _repository(package: Mapping[str, Any]) -> str | None:
    owner = text(section(package, "owner").get("login")) or text(package.get("namespace"))
    name = text(package.get("name"))
    return f"{owner}/{name}".lower() if owner and name else None


def _event(request: SourceRequest, body: Mapping[str, Any], package: Mapping[str, Any]) -> dict[str, Any]:
    version = section(package, "package_version")
    metadata = section(version, "container_metadata")
    manifest, tag = section(metadata, "manifest"), section(metadata, "tag")
    digest = (
        digest_of(manifest.get("digest")) or digest_of(tag.get("digest")) or digest_of(version.get("name"))
    )
    if digest is None:
        raise Unusable("the package version names no manifest digest")
    delivery = request.header("x-github-delivery")
    actor = text(section(body, "sender").get("login")) or text(section(version, "author").get("login"))
    return event_object(
        request,
        body,
        event_id=delivery
        or synthetic_id(KIND, version.get("id"), digest, tag.get("name"), body.get("action")),
        action="push",
        repository=_repository(package),
        tag=tag_of(tag.get("name")),
        digest=digest,
        media_type=text(manifest.get("media_type")),
        size=count(manifest.get("size")),
        actor=actor,
        timestamp=rfc3339(version.get("updated_at")) or rfc3339(version.get("created_at")),
        addr=host_of(package.get("package_url")) or "ghcr.io",
    )


SOURCE = Source(KIND, authenticate, normalise)
