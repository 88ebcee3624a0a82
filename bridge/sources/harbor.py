"""Harbor webhooks: the Default JSON format and the CloudEvents format (structured mode).

Default: ``{"type": "PUSH_ARTIFACT", "occur_at": <unix s>, "operator", "event_data":
{"resources": [{"digest", "tag", "resource_url"}], "repository": {"repo_full_name"}}}``,
without an event id (one is synthesised from the fields a retry repeats). CloudEvents:
``{"specversion", "id", "type": "harbor.artifact.pushed", "time", "data": <event_data>,
"operator"}``. An untagged artifact repeats its digest in ``tag``: that reads as no tag.
Authentication: the policy's auth header, copied verbatim into ``Authorization``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.sources.auth import static_header
from bridge.sources.model import Normalised, Source, SourceRequest, Unusable, ignore
from bridge.sources.shape import (
    action_name,
    digest_of,
    event_object,
    host_of,
    json_body,
    section,
    synthetic_id,
    tag_of,
    text,
)
from bridge.sources.times import from_unix, rfc3339

KIND = "harbor"
ACTIONS = {
    "PUSH_ARTIFACT": "push",
    "PULL_ARTIFACT": "pull",
    "DELETE_ARTIFACT": "delete",
    "harbor.artifact.pushed": "push",
    "harbor.artifact.pulled": "pull",
    "harbor.artifact.deleted": "delete",
}


def normalise(request: SourceRequest) -> Normalised:
    body = json_body(request)
    if not isinstance(body, Mapping):
        raise Unusable("body is not a JSON object")
    cloud = "specversion" in body
    kind = text(body.get("type"))
    if kind is None:
        raise Unusable("no event type")
    data = section(body, "data" if cloud else "event_data")
    resources = data.get("resources")
    repository = _repository(section(data, "repository"))
    if not isinstance(resources, list) or not resources or repository is None:
        if kind in ACTIONS:
            raise Unusable("an artifact event without resources or repository")
        return ignore(f"Harbor {kind} events name no artifact")
    action = ACTIONS.get(kind) or action_name(kind.removeprefix("harbor."))
    common = {
        "action": action,
        "repository": repository,
        "actor": text(body.get("operator")),
        "timestamp": rfc3339(body.get("time")) if cloud else from_unix(body.get("occur_at")),
        "source_type": kind if cloud else None,
    }
    events = [_event(request, body, resource, i, common) for i, resource in enumerate(resources)]
    return Normalised(events)


def _repository(repository: Mapping[str, Any]) -> str | None:
    full = text(repository.get("repo_full_name"))
    if full:
        return full
    namespace, name = text(repository.get("namespace")), text(repository.get("name"))
    return f"{namespace}/{name}" if namespace and name else None


def _event(
    request: SourceRequest, body: Mapping[str, Any], resource: Any, index: int, common: dict[str, Any]
) -> dict[str, Any]:
    if not isinstance(resource, Mapping):
        raise Unusable("a resource is not a JSON object")
    digest, tag = digest_of(resource.get("digest")), tag_of(resource.get("tag"))
    if digest is None and tag is None:
        raise Unusable("a resource has neither digest nor tag")
    cloud_id = text(body.get("id"))
    if cloud_id is not None and index == 0:
        event_id = cloud_id
    else:  # the Default format has no id; a second resource of one CloudEvent needs its own
        stable = (cloud_id, body.get("type"), body.get("occur_at"), body.get("operator"))
        event_id = synthetic_id(KIND, *stable, common["repository"], digest, resource.get("tag"), index)
    http = {"id": text(body.get("requestid"))}
    return event_object(
        request,
        body,
        event_id=event_id,
        tag=tag,
        digest=digest,
        addr=host_of(resource.get("resource_url")),
        http=http,
        **common,
    )


SOURCE = Source(KIND, static_header, normalise)
