"""A recording tap between the registry and the bridge, for the fault tests.

The registry notifies the tap; the tap forwards each ``POST`` unchanged to the bridge and
returns the bridge's answer unchanged. It records every request: when it started and
ended, the event ids in its body, and what the bridge answered (a status, or ``error``
when the bridge could not be reached or dropped the connection: the tap then answers 502
and the registry retries, as it does after a network error).

So a test knows the exact set of event ids the registry sent, and which requests were in
flight when it injected a fault.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.ports import free_port

HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


@dataclass(frozen=True)
class Exchange:
    started: float
    ended: float
    ids: tuple[str, ...]
    status: int | None  # None: the bridge could not be reached, or dropped the connection
    detail: str = ""  # "refused" (never connected), "dropped", or the body of a non-2xx answer


def event_ids(body: bytes) -> tuple[str, ...]:
    try:
        envelope = orjson.loads(body)
        return tuple(str(e["id"]) for e in envelope.get("events") or [])
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
        return ()


class RecordingTap:
    """Listens on 127.0.0.1; forwards ``POST /events`` to ``upstream``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def sent_ids(self) -> set[str]:
        with self._lock:
            return {i for e in self.exchanges for i in e.ids}

    def snapshot(self) -> list[Exchange]:
        with self._lock:
            return list(self.exchanges)

    def statuses(self) -> dict[str, int]:
        """How often the bridge answered each status (``None``: no answer)."""
        return {str(k): n for k, n in Counter(e.status for e in self.snapshot()).items()}

    async def _forward(self, request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        started = time.monotonic()
        status: int | None = None
        try:
            async with httpx.AsyncClient(timeout=30.0) as client:
                answer = await client.post(self.upstream, content=body, headers=headers)
            status, detail = answer.status_code, answer.text[:200] if answer.status_code >= 300 else ""
            response = Response(answer.content, status, {"content-type": "application/json"})
        except httpx.HTTPError as exc:
            detail = "refused" if isinstance(exc, httpx.ConnectError) else "dropped"
            response = Response(b"bridge unreachable", 502)
        with self._lock:
            self.exchanges.append(Exchange(started, time.monotonic(), event_ids(body), status, detail))
        return response

    def start(self) -> None:
        app = Starlette(routes=[Route("/events", self._forward, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=asyncio.run, args=(self._server.serve(),), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the recording tap did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
