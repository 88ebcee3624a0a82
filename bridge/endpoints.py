"""The HTTP endpoints: ``POST /events``, ``GET /healthz``, ``GET /readyz``, ``GET /metrics``.

They read their collaborators from ``request.state.bridge`` (made in the app's lifespan)
and write one log line per ``POST /events``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bridge.auth import TokenCheck
from bridge.lifecycle import Lifecycle
from bridge.metrics import BridgeMetrics
from bridge.publisher import Publisher, PublishFailed
from bridge.receiver import Outcome, Receiver
from bridge.spoolgate import SpoolGate

log = logging.getLogger("bridge.request")


@dataclass(frozen=True, slots=True)
class BridgeState:
    """Everything the endpoints need, made once per app in the lifespan."""

    receiver: Receiver
    publisher: Publisher
    tokens: TokenCheck
    metrics: BridgeMetrics
    lifecycle: Lifecycle
    max_body_bytes: int
    retry_after: int
    spool: SpoolGate | None = None


class BodyTooLarge(Exception):
    """The body is over ``REGBRIDGE_MAX_BODY_BYTES``."""


def json_response(content: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status, headers, media_type="application/json")


def unavailable(state: BridgeState, error: str) -> Response:
    return json_response({"error": error}, 503, {"Retry-After": str(state.retry_after)})


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (by header, then by count) to read more than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def receive_events(request: Request) -> Response:
    state: BridgeState = request.state.bridge
    started = time.perf_counter()
    if state.lifecycle.draining:
        response = unavailable(state, "shutting down")
        _log(request, response.status_code, "draining", None, started)
        return response
    state.lifecycle.in_flight += 1
    state.metrics.in_flight.inc()
    try:
        response, outcome, kind = await _handle(request, state)
    finally:
        state.lifecycle.in_flight -= 1
        state.metrics.in_flight.dec()
    state.metrics.count_answer(response.status_code)
    _log(request, response.status_code, kind, outcome, started)
    return response


async def _handle(request: Request, state: BridgeState) -> tuple[Response, Outcome | None, str]:
    if not state.tokens.allows(request.headers.get("authorization")):
        state.metrics.auth_failures.inc()
        return json_response({"error": "missing or invalid bearer token"}, 401), None, "unauthorized"
    try:
        body = await read_body(request, state.max_body_bytes)
    except BodyTooLarge:
        error = f"body is over {state.max_body_bytes} bytes"
        return json_response({"error": error}, 413), None, "too_large"
    client = request.client
    try:
        outcome = await state.receiver.receive(body, client.host if client else "")
    except PublishFailed as exc:
        log.warning("publish failed", extra={"fields": {"error": str(exc)}})
        return unavailable(state, f"Kafka did not acknowledge: {exc}"), None, "unavailable"
    return outcome_response(outcome), outcome, outcome.outcome


def outcome_response(outcome: Outcome) -> Response:
    """200 has an empty body (one write per answer: the registry ignores bodies); the
    counts ride in one ``x-regbridge-outcome`` header (``published=1,duplicates=0,...``).
    Other answers carry them as JSON too."""
    summary = ",".join(f"{name}={count}" for name, count in outcome.counts().items())
    headers = {"x-regbridge-outcome": summary}
    if outcome.status == 200:
        return Response(b"", 200, headers)
    return json_response(outcome.body(), outcome.status, headers)


def _log(request: Request, status: int, kind: str, outcome: Outcome | None, started: float) -> None:
    fields: dict[str, Any] = {
        "status": status,
        "outcome": kind,
        "ms": round((time.perf_counter() - started) * 1000, 3),
        "content_type": request.headers.get("content-type"),
    }
    if outcome is not None:
        fields["event_ids"] = outcome.event_ids
        fields["topics"] = outcome.topics
        if outcome.error:
            fields["error"] = outcome.error
    log.info("POST /events", extra={"fields": fields})


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"}, 200)


async def readyz(request: Request) -> Response:
    """503 while draining, or when Kafka is away and there is no spool with room to
    take the events instead; with a spool, the body reports it."""
    state: BridgeState = request.state.bridge
    spool = state.spool
    extra: dict[str, Any] = {"kafka": "ready" if state.publisher.ready else "unavailable"}
    if spool is not None:
        extra["spool"] = spool.report()
    if state.lifecycle.draining:
        return json_response({"status": "draining", **extra}, 503)
    if not state.publisher.ready and (spool is None or not spool.has_room):
        return json_response({"status": "kafka unavailable", **extra}, 503)
    return json_response({"status": "ready", **extra}, 200)


async def metrics(request: Request) -> Response:
    state: BridgeState = request.state.bridge
    payload, content_type = state.metrics.render()
    return Response(payload, 200, media_type=content_type)
