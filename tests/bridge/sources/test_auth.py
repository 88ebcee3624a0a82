"""Each sender authenticated the way it signs, through the real bridge: a valid request is
taken (200), a wrong and a missing signature or credential answer 401 and are counted per
kind, and where the format carries a time (Nexus' signed timestamp, the Pub/Sub token's
``exp``) an old one replayed is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.bridge import RunningBridge, bridge_settings, running_bridge
from tests.support.sources import GAR_EMAIL, PushTokens, Sample, request_headers, sample, source_settings

pytestmark = pytest.mark.kafka


@dataclass(frozen=True)
class Attempt:
    name: str
    status: int
    path: str
    headers: dict[str, str]
    body: str


def changed(headers: dict[str, str], name: str, value: str | None) -> dict[str, str]:
    kept = {k: v for k, v in headers.items() if k.lower() != name.lower()}
    return kept if value is None else kept | {name: value}


def hex_hmac(secret: str, body: str, algorithm: str) -> str:
    return hmac.new(secret.encode(), body.encode(), getattr(hashlib, algorithm)).hexdigest()


def header_cases(item: Sample, header: str, wrong: str) -> list[Attempt]:
    h, path, body = item.headers, item.path(), item.body
    return [
        Attempt("valid", 200, path, h, body),
        Attempt("wrong", 401, path, changed(h, header, wrong), body),
        Attempt("missing", 401, path, changed(h, header, None), body),
    ]


def harbor(item: Sample, tokens: PushTokens) -> list[Attempt]:
    return header_cases(item, "Authorization", "Bearer hb-whk-0000000000000000")


def zot(item: Sample, tokens: PushTokens) -> list[Attempt]:
    wrong = "Basic " + base64.b64encode(b"zot-events:guess").decode()
    bearer = Attempt(
        "bearer", 401, item.path(), changed(item.headers, "Authorization", "Bearer guess"), item.body
    )
    return [*header_cases(item, "Authorization", wrong), bearer]


def url_secret(item: Sample, tokens: PushTokens) -> list[Attempt]:
    h, body = item.headers, item.body
    return [
        Attempt("valid", 200, item.path(), h, body),
        Attempt("wrong", 401, item.path("wrong-secret-0123456789"), h, body),
        Attempt("missing", 401, f"/sources/{item.source}/events", h, body),
    ]


def ghcr(item: Sample, tokens: PushTokens) -> list[Attempt]:
    h, path, body, secret = item.headers, item.path(), item.body, str(item.test_secret)
    sha1_only = changed(h, "X-Hub-Signature-256", None)
    return [
        Attempt("valid", 200, path, h, body),
        Attempt("sha1 only", 200, path, sha1_only, body),
        Attempt("wrong", 401, path, changed(h, "X-Hub-Signature-256", "sha256=" + "0" * 64), body),
        Attempt("tampered body", 401, path, h, body.replace('"1.4.2"', '"6.6.6"')),
        Attempt("missing", 401, path, changed(sha1_only, "X-Hub-Signature", None), body),
        Attempt(
            "other key",
            401,
            path,
            changed(h, "X-Hub-Signature-256", "sha256=" + hex_hmac("x", body, "sha256")),
            body,
        ),
        Attempt(
            "sha1 wrong",
            401,
            path,
            changed(sha1_only, "X-Hub-Signature", "sha1=" + hex_hmac(secret + "x", body, "sha1")),
            body,
        ),
    ]


def artifactory(item: Sample, tokens: PushTokens) -> list[Attempt]:
    signature = hex_hmac(str(item.test_secret), item.body, "sha256")
    signed = Attempt(
        "hmac", 200, item.path(), changed(item.headers, "X-JFrog-Event-Auth", signature), item.body
    )
    return [*header_cases(item, "X-JFrog-Event-Auth", "jfwh_guess"), signed]


def nexus(item: Sample, tokens: PushTokens) -> list[Attempt]:
    h, path, secret = item.headers, item.path(), str(item.test_secret)

    def signed_at(moment: datetime) -> tuple[dict[str, str], str]:
        body = json.loads(item.body) | {"timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")}
        text = json.dumps(body, separators=(",", ":"))
        return changed(h, "X-Nexus-Webhook-Signature", hex_hmac(secret, text, "sha1")), text

    now = datetime.now(UTC)
    fresh, old = signed_at(now), signed_at(now - timedelta(hours=2))
    return [
        Attempt("valid", 200, path, *fresh),
        Attempt("wrong", 401, path, changed(fresh[0], "X-Nexus-Webhook-Signature", "0" * 40), fresh[1]),
        Attempt("missing", 401, path, changed(fresh[0], "X-Nexus-Webhook-Signature", None), fresh[1]),
        Attempt("replayed old timestamp", 401, path, *old),
    ]


def acr(item: Sample, tokens: PushTokens) -> list[Attempt]:
    return header_cases(item, "Authorization", "Bearer acr-hook-guess")


def ecr(item: Sample, tokens: PushTokens) -> list[Attempt]:
    basic = sample("ecr-eventbridge-api-destination", "delete")
    wrong_basic = "Basic " + base64.b64encode(b"eventbridge:guess").decode()
    return [
        *header_cases(item, "x-api-key", "ecr-guess"),
        Attempt("basic", 200, basic.path(), basic.headers, basic.body),
        Attempt(
            "wrong basic", 401, basic.path(), changed(basic.headers, "Authorization", wrong_basic), basic.body
        ),
    ]


def gar(item: Sample, tokens: PushTokens) -> list[Attempt]:
    h, path, body = request_headers(item, tokens), item.path(), item.body
    other = PushTokens(Path(str(tokens.jwks_file.parent / "other")))
    old = int((datetime.now(UTC) - timedelta(hours=3)).timestamp())

    def bearer(token: str) -> dict[str, str]:
        return changed(h, "Authorization", "Bearer " + token)

    return [
        Attempt("valid", 200, path, h, body),
        Attempt("fake signature (the fixture's)", 401, path, item.headers, body),
        Attempt("other key", 401, path, bearer(other.token()), body),
        Attempt("missing", 401, path, changed(h, "Authorization", None), body),
        Attempt("replayed expired token", 401, path, bearer(tokens.token(iat=old, exp=old + 3600)), body),
        Attempt("wrong audience", 401, path, bearer(tokens.token(aud="https://elsewhere.example/")), body),
        Attempt(
            "wrong email",
            401,
            path,
            bearer(tokens.token(email="intruder@evil.iam.gserviceaccount.com")),
            body,
        ),
        Attempt(
            "unverified email", 401, path, bearer(tokens.token(email=GAR_EMAIL, email_verified=False)), body
        ),
        Attempt("alg none", 401, path, bearer(tokens.token().split(".")[0] + ".e30."), body),
    ]


CASES: dict[str, tuple[Sample, Callable[[Sample, PushTokens], list[Attempt]]]] = {
    "harbor": (sample("harbor-cloudevents", "push"), harbor),
    "zot": (sample("zot-cloudevents-binary", "push"), zot),
    "quay": (sample("quay-repo-push", "push"), url_secret),
    "ghcr": (sample("github-package", "push"), ghcr),
    "dockerhub": (sample("dockerhub-webhook", "push"), url_secret),
    "artifactory": (sample("artifactory-docker", "push"), artifactory),
    "nexus": (sample("nexus-repository-component", "push"), nexus),
    "acr": (sample("acr-webhook", "push"), acr),
    "ecr": (sample("ecr-eventbridge-api-destination", "push"), ecr),
    "gar": (sample("gar-pubsub-push", "push"), gar),
}


async def attempt(bridge: RunningBridge, case: Attempt) -> str | None:
    response = await bridge.client.post(case.path, content=case.body.encode(), headers=case.headers)
    if response.status_code != case.status:
        return f"{case.name}: {response.status_code} {response.text}"
    if case.status == 401 and not response.json()["error"]:
        return f"{case.name}: 401 without a reason"
    return None


@pytest.mark.parametrize("kind", list(CASES))
async def test_each_sender_is_authenticated_the_way_it_signs(
    kind: str, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    tokens = PushTokens(tmp_path)
    (tmp_path / "other").mkdir()
    item, make = CASES[kind]
    cases = make(item, tokens)
    sources = replace(source_settings(tokens, (kind,)), max_age=300.0)
    async with running_bridge(bridge_settings(kafka_bootstrap, topic_prefix, sources=sources)) as bridge:
        failures = [problem for case in cases if (problem := await attempt(bridge, case))]
        refused = await bridge.metric("regbridge_source_auth_failures_total")
    assert failures == []
    assert refused == sum(1 for case in cases if case.status == 401)
