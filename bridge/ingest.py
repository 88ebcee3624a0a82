"""``POST /events`` as a plain ASGI app: the hot path, without Request or Response objects.

Per request: refuse while draining (503), check the bearer token (401), read the body up to
``REGBRIDGE_MAX_BODY_BYTES`` (413) within ``REGBRIDGE_BODY_TIMEOUT_SECONDS`` (408; uvicorn
has no body-read timeout of its own, so a client trickling bytes is cut here), hand it to
the :class:`~bridge.receiver.Receiver` (200/202, or 503 when Kafka did not acknowledge),
answer, and write one log line.
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from bridge.deadline import Deadline
from bridge.endpoints import BridgeState
from bridge.receiver import NotAcknowledged, Outcome
from common.logs import info_line

log = logging.getLogger("bridge.request")

HttpHeaders = list[tuple[bytes, bytes]]
JSON = (b"content-type", b"application/json")
CLOSE = (b"connection", b"close")  # after a 408: stop waiting for the rest of the body


class BodyTooLarge(Exception):
    """The body is over ``REGBRIDGE_MAX_BODY_BYTES``."""


class Disconnected(Exception):
    """The client went away before sending its whole body."""


class Answer:
    __slots__ = ("body", "headers", "kind", "outcome", "status")

    def __init__(
        self, status: int, body: bytes, headers: HttpHeaders, kind: str, outcome: Outcome | None = None
    ):
        self.status, self.body, self.headers, self.kind, self.outcome = status, body, headers, kind, outcome


def error(status: int, message: str, kind: str, extra: tuple[tuple[bytes, bytes], ...] = ()) -> Answer:
    return Answer(status, orjson.dumps({"error": message}), [JSON, *extra], kind)


def outcome_answer(outcome: Outcome) -> Answer:
    """200 has an empty body (the registry ignores bodies, and uvicorn then needs one write,
    not two); the counts ride in one ``x-regbridge-outcome`` header
    (``published=1,duplicates=0,...``). A 202 carries them as JSON too."""
    summary = outcome_summary(
        outcome.published, outcome.duplicates, outcome.filtered, outcome.quarantined, outcome.spooled
    )
    headers: HttpHeaders = [(b"x-regbridge-outcome", summary)]
    if outcome.status == 200:
        return Answer(200, b"", headers, outcome.outcome, outcome)
    return Answer(outcome.status, orjson.dumps(outcome.body()), [JSON, *headers], outcome.outcome, outcome)


@lru_cache(maxsize=1024)
def outcome_summary(published: int, duplicates: int, filtered: int, quarantined: int, spooled: int) -> bytes:
    """The ``x-regbridge-outcome`` value for these counts, made once per combination (almost
    every answer is ``published=1,...``; building it per request was 2 % of a request)."""
    outcome = Outcome(published=published, duplicates=duplicates, filtered=filtered)
    outcome.quarantined, outcome.spooled = quarantined, spooled
    counts = outcome.counts()
    return ",".join(f"{name}={count}" for name, count in counts.items()).encode()


async def read_body(receive: Receive, declared: bytes | None, limit: int) -> bytes:
    """The body, refusing (by ``Content-Length``, then by count) to read more than ``limit``."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def request_headers(scope: Scope) -> dict[bytes, bytes]:
    wanted = {b"authorization", b"content-type", b"content-length"}
    return {name: value for name, value in scope["headers"] if name in wanted}


class EventsEndpoint:
    """The ASGI app behind ``Route("/events", EventsEndpoint(), methods=["POST"])``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: BridgeState = scope["state"]["bridge"]
        started = time.perf_counter()
        headers = request_headers(scope)
        if state.lifecycle.draining:
            retry = (b"retry-after", str(state.retry_after).encode())
            answer = error(503, "shutting down", "draining", (retry,))
            await respond(send, answer)
        else:
            state.lifecycle.in_flight += 1
            try:
                answer = await handle(scope, receive, headers, state)
                if answer.kind != "disconnected":
                    await respond(send, answer)
            finally:
                state.lifecycle.in_flight -= 1
        state.metrics.count_answer(answer.status)
        log_line(answer, headers, started)


async def handle(scope: Scope, receive: Receive, headers: dict[bytes, bytes], state: BridgeState) -> Answer:
    authorization = headers.get(b"authorization")
    if not state.tokens.allows(authorization.decode("latin-1") if authorization else None):
        state.metrics.auth_failures.inc()
        return error(401, "missing or invalid bearer token", "unauthorized")
    try:
        with Deadline(state.body_timeout):
            body = await read_body(receive, headers.get(b"content-length"), state.max_body_bytes)
    except BodyTooLarge:
        return error(413, f"body is over {state.max_body_bytes} bytes", "too_large")
    except TimeoutError:
        state.metrics.body_timeouts.inc()
        return error(408, f"body not received within {state.body_timeout}s", "timeout", (CLOSE,))
    except Disconnected:
        return Answer(499, b"", [], "disconnected")
    client = scope.get("client")
    try:
        outcome = await state.receiver.receive(body, client[0] if client else "")
    except NotAcknowledged as exc:
        log.warning(
            "publish failed", extra={"fields": {"error": str(exc), "event_ids": exc.outcome.event_ids}}
        )
        retry = (b"retry-after", str(state.retry_after).encode())
        answer = error(503, f"Kafka did not acknowledge: {exc}", "unavailable", (retry,))
        answer.outcome = exc.outcome
        return answer
    return outcome_answer(outcome)


async def respond(send: Send, answer: Answer) -> None:
    length = (b"content-length", str(len(answer.body)).encode())
    await send({"type": "http.response.start", "status": answer.status, "headers": [*answer.headers, length]})
    await send({"type": "http.response.body", "body": answer.body})


def log_line(answer: Answer, headers: dict[bytes, bytes], started: float) -> None:
    content_type = headers.get(b"content-type")
    fields: dict[str, Any] = {
        "status": answer.status,
        "outcome": answer.kind,
        "ms": round((time.perf_counter() - started) * 1000, 3),
        "content_type": content_type.decode("latin-1") if content_type else None,
    }
    outcome = answer.outcome
    if outcome is not None:
        fields["event_ids"] = outcome.event_ids
        fields["topics"] = outcome.topics
        if outcome.error:
            fields["error"] = outcome.error
    info_line(log, "POST /events", fields)
