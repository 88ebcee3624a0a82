"""Docker Hub repository webhooks (push only).

Body: ``{"push_data": {"pushed_at": <unix s>, "pusher", "tag", "images", "media_type"},
"repository": {"repo_name": "acme/app", "namespace", "name", …}, "callback_url"}``: no
digest and no id; the id is synthesised from the repository, tag, time and pusher, which a
redelivery repeats. ``push_data.media_type`` is the image config's, not the manifest's:
not kept as the media type. Authentication: Docker Hub signs nothing, so the secret is in
the URL.
"""

from __future__ import annotations

from collections.abc import Mapping

from bridge.sources.auth import url_secret
from bridge.sources.model import Normalised, Source, SourceRequest, Unusable
from bridge.sources.shape import event_object, json_body, section, synthetic_id, tag_of, text
from bridge.sources.times import from_unix

KIND = "dockerhub"
HOST = "docker.io"


def normalise(request: SourceRequest) -> Normalised:
    body = json_body(request)
    if not isinstance(body, Mapping):
        raise Unusable("body is not a JSON object")
    push, repo = section(body, "push_data"), section(body, "repository")
    tag = tag_of(push.get("tag"))
    if tag is None:
        raise Unusable("push_data has no tag")
    repository = text(repo.get("repo_name"))
    if repository is None:
        namespace, name = text(repo.get("namespace")), text(repo.get("name"))
        repository = f"{namespace}/{name}" if namespace and name else None
    pushed_at, pusher = from_unix(push.get("pushed_at")), text(push.get("pusher"))
    stable = (repository, tag, pushed_at, pusher) if pushed_at else (repository, tag, request.window)
    event = event_object(
        request,
        body,
        event_id=synthetic_id(KIND, *stable),
        action="push",
        repository=repository,
        tag=tag,
        actor=pusher,
        timestamp=pushed_at,
        addr=HOST,
    )
    return Normalised([event])


SOURCE = Source(KIND, url_secret, normalise, url_secret=True)
