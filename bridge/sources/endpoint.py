"""``POST /sources/<kind>/events`` (and ``…/events/<secret>`` for senders that sign
nothing) as a plain ASGI app.

Per request: 404 unless the kind is enabled (``REGBRIDGE_SOURCES``); 503 while draining;
the body read as on ``POST /events`` (413, 408); a handshake answered before anything else
(Event Grid); the sender authenticated (401, counted per kind); the payload normalised
into distribution-shaped events and handed to the :class:`~bridge.receiver.Receiver`
(filter, dedupe, publish within the budget, spool): 200 once safe, 503 when Kafka did not
acknowledge. A payload that cannot be normalised is quarantined to ``<prefix>.invalid``
and answered 202; a delivery that is understood but no image event (a ping) is answered
200 with nothing published. One log line per request; the URL secret is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from bridge.endpoints import BridgeState
from bridge.ingest import JSON, Answer, BodyTooLarge, Disconnected, error, outcome_answer, read_body, respond
from bridge.receiver import NotAcknowledged, Outcome
from bridge.sources.kinds import KINDS
from bridge.sources.metrics import SourceMetrics
from bridge.sources.model import Credentials, Normalised, Source, SourceRequest, Unusable
from bridge.sources.pushtoken import PushTokenVerifier
from bridge.sources.settings import SourceSettings
from common.logs import info_line

log = logging.getLogger("bridge.sources")


@dataclass(frozen=True, slots=True)
class Enabled:
    source: Source
    credentials: Credentials


@dataclass(frozen=True, slots=True)
class SourcesState:
    """The enabled kinds with their credentials, made once in the app's lifespan."""

    enabled: Mapping[str, Enabled]
    metrics: SourceMetrics
    id_window: int

    @classmethod
    def build(cls, settings: SourceSettings, metrics: SourceMetrics) -> SourcesState:
        headers = {"acr": settings.acr_header, "ecr": settings.ecr_header}
        enabled: dict[str, Enabled] = {}
        for kind in settings.kinds:
            verifier = None
            if kind == "gar":
                assert settings.gar_jwks_file is not None  # SourceSettings.check
                jwks, audience = settings.gar_jwks_file, settings.gar_audience
                verifier = PushTokenVerifier(jwks, audience, settings.gar_emails)
            credentials = Credentials(
                secrets=settings.secrets.get(kind, ()),
                header=headers.get(kind, "authorization"),
                max_age=settings.max_age,
                verifier=verifier,
            )
            enabled[kind] = Enabled(KINDS[kind], credentials)
        return cls(enabled, metrics, settings.id_window)


class SourcesEndpoint:
    """The ASGI app behind both ``/sources/{kind}/events`` routes."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        bridge: BridgeState = scope["state"]["bridge"]
        state: SourcesState = scope["state"]["sources"]
        started = time.perf_counter()
        kind, secret = scope["path_params"]["kind"], scope["path_params"].get("secret")
        enabled = state.enabled.get(kind)
        if enabled is None or (secret is not None and not enabled.source.url_secret):
            await respond(send, error(404, "no such source kind, or it is not enabled", "not_found"))
            return
        if bridge.lifecycle.draining:
            retry = (b"retry-after", str(bridge.retry_after).encode())
            answer = error(503, "shutting down", "draining", (retry,))
            await respond(send, answer)
        else:
            bridge.lifecycle.in_flight += 1
            try:
                answer = await handle(scope, receive, enabled, state, bridge)
                if answer.kind != "disconnected":
                    await respond(send, answer)
            finally:
                bridge.lifecycle.in_flight -= 1
        state.metrics.requests.labels(kind, str(answer.status)).inc()
        log_line(kind, answer, started)


def request_headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return headers


def options_answer(headers: Mapping[str, str]) -> Answer:
    """The CloudEvents webhook validation (``OPTIONS`` with ``WebHook-Request-Origin``)."""
    allowed: list[tuple[bytes, bytes]] = [(b"allow", b"POST, OPTIONS")]
    origin = headers.get("webhook-request-origin")
    if origin:
        allowed += [(b"webhook-allowed-origin", origin.encode("latin-1")), (b"webhook-allowed-rate", b"*")]
    return Answer(200, b"", allowed, "handshake")


async def handle(
    scope: Scope, receive: Receive, enabled: Enabled, state: SourcesState, bridge: BridgeState
) -> Answer:
    headers = request_headers(scope)
    if scope["method"] == "OPTIONS":
        return options_answer(headers)
    try:
        async with asyncio.timeout(bridge.body_timeout):
            body = await read_body(receive, headers.get("content-length", "").encode(), bridge.max_body_bytes)
    except BodyTooLarge:
        return error(413, f"body is over {bridge.max_body_bytes} bytes", "too_large")
    except TimeoutError:
        bridge.metrics.body_timeouts.inc()
        return error(408, f"body not received within {bridge.body_timeout}s", "timeout")
    except Disconnected:
        return Answer(499, b"", [], "disconnected")
    kind, source = enabled.source.kind, enabled.source
    secret = scope["path_params"].get("secret")
    request = SourceRequest(kind, "POST", headers, body, datetime.now(UTC), secret, state.id_window)
    client = scope.get("client")
    address = client[0] if client else ""
    reply = source.handshake(request) if source.handshake is not None else None
    if reply is not None:
        return Answer(reply.status, reply.body, reply.headers, "handshake")
    reason = source.authenticate(request, enabled.credentials)
    if reason is not None:
        state.metrics.auth_failures.labels(kind).inc()
        return error(401, reason, "unauthorized")
    return await deliver(request, normalised(request, source, state), bridge, state, address)


def normalised(request: SourceRequest, source: Source, state: SourcesState) -> Normalised | str:
    """What the payload gives, or why it cannot be normalised (to quarantine)."""
    try:
        return source.normalise(request)
    except Unusable as exc:
        return str(exc)
    except Exception as exc:  # a bug must not cost the event: keep the payload, say so loudly
        state.metrics.normaliser_errors.labels(request.kind).inc()
        log.exception("normaliser failed", extra={"fields": {"kind": request.kind}})
        return f"the {request.kind} normaliser failed: {type(exc).__name__}"


async def deliver(
    request: SourceRequest, result: Normalised | str, bridge: BridgeState, state: SourcesState, address: str
) -> Answer:
    kind, metrics = request.kind, state.metrics
    if isinstance(result, Normalised) and len(result.events) > bridge.receiver.max_events:
        result = f"the payload gives {len(result.events)} events, more than {bridge.receiver.max_events}"
    if isinstance(result, str):
        metrics.quarantined.labels(kind).inc()
        return await published(bridge, bridge.receiver.quarantine(request.body, f"{kind}: {result}", address))
    if result.reply is not None:
        return Answer(result.reply.status, result.reply.body, result.reply.headers, "handshake")
    if result.ignored is not None or not result.events:
        metrics.ignored.labels(kind).inc()
        body = orjson.dumps({"ignored": result.ignored or "no event"})
        return Answer(200, body, [JSON], "ignored", Outcome(error=result.ignored))
    metrics.events.labels(kind).inc(len(result.events))
    return await published(bridge, bridge.receiver.receive_events(result.events, address))


async def published(bridge: BridgeState, outcome: Awaitable[Outcome]) -> Answer:
    """The receiver's outcome as the answer; 503 when Kafka did not acknowledge in time."""
    try:
        return outcome_answer(await outcome)
    except NotAcknowledged as exc:
        log.warning(
            "publish failed", extra={"fields": {"error": str(exc), "event_ids": exc.outcome.event_ids}}
        )
        retry = (b"retry-after", str(bridge.retry_after).encode())
        answer = error(503, f"Kafka did not acknowledge: {exc}", "unavailable", (retry,))
        answer.outcome = exc.outcome
        return answer


def log_line(kind: str, answer: Answer, started: float) -> None:
    fields: dict[str, Any] = {
        "kind": kind,
        "status": answer.status,
        "outcome": answer.kind,
        "ms": round((time.perf_counter() - started) * 1000, 3),
    }
    outcome = answer.outcome
    if outcome is not None:
        fields["event_ids"] = outcome.event_ids
        fields["topics"] = outcome.topics
        if outcome.error:
            fields["error"] = outcome.error
    elif answer.status >= 400:
        fields["error"] = orjson.loads(answer.body).get("error") if answer.body else None
    info_line(log, "POST /sources/<kind>/events", fields)
