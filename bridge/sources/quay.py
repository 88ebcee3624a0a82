"""Quay's ``repo_push`` notification (webhook method).

Body: ``{"repository": "team/app", "namespace", "name", "docker_url": "quay.io/team/app",
"homepage", "updated_tags": ["1.4.2", …]}``: one push event per tag, no digest, no time,
no actor, no id. The id is synthesised from the repository, the tag and the window of
the receive time (``REGBRIDGE_SOURCE_ID_WINDOW_SECONDS``): Quay retries a failed delivery
up to 5 times, 30 s apart, with the same body, and those retries deduplicate, while a
later push of the same tag is a new event. Quay's other notifications (builds,
vulnerabilities, mirroring) are not image changes: ignored. Authentication: Quay signs
nothing, so the secret is in the URL.
"""

from __future__ import annotations

from collections.abc import Mapping

from bridge.sources.auth import url_secret
from bridge.sources.model import Normalised, Source, SourceRequest, Unusable, ignore
from bridge.sources.shape import event_object, host_of, json_body, synthetic_id, tag_of, text

KIND = "quay"


def normalise(request: SourceRequest) -> Normalised:
    body = json_body(request)
    if not isinstance(body, Mapping):
        raise Unusable("body is not a JSON object")
    tags = body.get("updated_tags")
    if tags is None and text(body.get("repository")) and text(body.get("docker_url")):
        return ignore("not a repo_push notification (no updated_tags)")
    if not isinstance(tags, list) or not tags:
        raise Unusable("repo_push without an updated_tags list")
    if not all(isinstance(tag, str) and tag_of(tag) for tag in tags):
        raise Unusable("updated_tags holds something that is not a tag")
    repository = text(body.get("repository"))
    if repository is None:
        namespace, name = text(body.get("namespace")), text(body.get("name"))
        repository = f"{namespace}/{name}" if namespace and name else None
    addr = host_of(body.get("docker_url"))
    events = [
        event_object(
            request,
            body,
            event_id=synthetic_id(KIND, addr, repository, tag, request.window),
            action="push",
            repository=repository,
            tag=tag_of(tag),
            addr=addr,
        )
        for tag in dict.fromkeys(tags)
    ]
    return Normalised(events)


SOURCE = Source(KIND, url_secret, normalise, url_secret=True)
