"""Amazon ECR through EventBridge: the ``ECR Image Action`` event, as an API destination
posts it (unchanged, no input transformer).

Body: ``{"id", "detail-type": "ECR Image Action", "source": "aws.ecr", "account", "time",
"region", "detail": {"result": "SUCCESS", "repository-name", "image-digest",
"action-type": "PUSH"|"DELETE", "image-tag", "manifest-media-type"}}``. The id is the
envelope's. Failed actions and other ECR detail types (scans, replication, pull-through
cache) are ignored; ECR reports no pulls. Authentication: the connection's Basic
``user:password``, its API key in ``REGBRIDGE_SOURCE_ECR_HEADER`` (``x-api-key`` by
default), or a ``Bearer`` value equal to the secret. EventBridge retries 429 and 5xx (for
24 h by default) and no other 4xx.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bridge.sources.auth import MISSING, WRONG, basic_credentials, known
from bridge.sources.model import Credentials, Normalised, Source, SourceRequest, Unusable, ignore
from bridge.sources.shape import digest_of, event_object, json_body, section, synthetic_id, tag_of, text
from bridge.sources.times import rfc3339
from common.tokens import bearer_token

KIND = "ecr"
DETAIL_TYPE = "ECR Image Action"
ACTIONS = {"PUSH": "push", "DELETE": "delete"}
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


def authenticate(request: SourceRequest, credentials: Credentials) -> str | None:
    authorization = request.header("authorization")
    key = request.header(credentials.header)
    if authorization is None and key is None:
        return MISSING
    presented = [key, basic_credentials(authorization), bearer_token(authorization)]
    matched = [known(value, credentials) for value in presented]
    return None if any(matched) else WRONG


def normalise(request: SourceRequest) -> Normalised:
    body = json_body(request)
    if not isinstance(body, Mapping):
        raise Unusable("body is not a JSON object")
    if body.get("source") != "aws.ecr" or body.get("detail-type") != DETAIL_TYPE:
        kind = body.get("detail-type")
        if body.get("source") == "aws.ecr" and isinstance(kind, str):
            return ignore(f"{kind} events change no image")
        raise Unusable("not an EventBridge event from aws.ecr")
    detail = section(body, "detail")
    if detail.get("result") != "SUCCESS":
        return ignore(f"a {detail.get('result')!r} image action changed nothing")
    action = ACTIONS.get(str(detail.get("action-type")))
    if action is None:
        raise Unusable(f"unknown action-type {detail.get('action-type')!r}")
    digest, tag = digest_of(detail.get("image-digest")), tag_of(detail.get("image-tag"))
    if digest is None and tag is None:
        raise Unusable("neither image-digest nor image-tag")
    account, region = body.get("account"), body.get("region")
    addr = None
    if (
        isinstance(account, str)
        and _ACCOUNT.match(account)
        and isinstance(region, str)
        and _REGION.match(region)
    ):
        addr = f"{account}.dkr.ecr.{region}.amazonaws.com"
    stable = (account, region, body.get("time"), action, detail.get("repository-name"), digest, tag)
    event = event_object(
        request,
        body,
        event_id=text(body.get("id")) or synthetic_id(KIND, *stable),
        action=action,
        repository=detail.get("repository-name"),
        tag=tag,
        digest=digest,
        media_type=text(detail.get("manifest-media-type")),
        timestamp=rfc3339(body.get("time")),
        addr=addr,
    )
    return Normalised([event])


SOURCE = Source(KIND, authenticate, normalise)
