"""``GET /healthz``, ``GET /readyz``, ``GET /metrics``, and :class:`BridgeState`, what every
endpoint reads from ``request.state.bridge`` (made in the app's lifespan). ``POST /events``
is in :mod:`bridge.ingest`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bridge.lifecycle import Lifecycle
from bridge.metrics import BridgeMetrics
from bridge.publisher import Publisher
from bridge.receiver import Receiver
from bridge.spool import SpoolGate
from common.tokens import TokenCheck


@dataclass(frozen=True, slots=True)
class BridgeState:
    """Everything the endpoints need, made once per app in the lifespan."""

    receiver: Receiver
    publisher: Publisher
    tokens: TokenCheck
    metrics: BridgeMetrics
    lifecycle: Lifecycle
    max_body_bytes: int
    body_timeout: float
    retry_after: int
    spool: SpoolGate | None = None


def json_response(content: dict[str, Any], status: int) -> Response:
    return Response(orjson.dumps(content), status, media_type="application/json")


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
