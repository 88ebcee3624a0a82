"""A minimal notification receiver for harness tests: a Starlette app on a real uvicorn
server (in a thread, on a free port) that records every POST and answers 200.

It stands in for the bridge only to prove the registry harness; it checks nothing
about the token beyond recording the header, so tests assert on what it recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from devstack.ports import free_port, port_open


@dataclass(frozen=True)
class Delivery:
    """One POST as received: headers (lower-case names) and the decoded events."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def events(self) -> list[dict[str, Any]]:
        decoded = json.loads(self.body)
        events = decoded["events"]
        assert isinstance(events, list)
        return events


class RecordingReceiver:
    """Records every ``POST /events`` it gets; start and stop it as a context manager.

    ``statuses``: answers to give to the first requests, in order (e.g. ``[503, 503]``), before
    answering 200 to everything; the failed deliveries are recorded too.
    """

    def __init__(self, host: str = "127.0.0.1", statuses: Sequence[int] = ()) -> None:
        self.host = host
        self.port = free_port(host)
        self.deliveries: list[Delivery] = []
        self.answered: list[int] = []
        self._statuses = list(statuses)
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/events", self._record, methods=["POST"])])
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="recording-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/events"

    async def _record(self, request: Request) -> JSONResponse:
        body = await request.body()
        with self._lock:
            self.deliveries.append(Delivery(request.url.path, dict(request.headers), body))
            status = self._statuses.pop(0) if self._statuses else 200
            self.answered.append(status)
        return JSONResponse({"ok": status < 300}, status_code=status)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            deliveries = list(self.deliveries)
        return [event for delivery in deliveries for event in delivery.events]

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not port_open(self.host, self.port):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the recording receiver did not start on {self.url}")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> RecordingReceiver:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
