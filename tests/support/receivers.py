"""Real HTTP receivers for tests, Starlette apps under uvicorn on free loopback ports:

* :class:`RecordingReceiver` stands in for the bridge to prove the registry harness: in a
  thread (the harness is synchronous), it records every ``POST /events`` and answers from
  ``statuses``, then 200. It checks nothing about the token beyond recording the header.
* :class:`Receiver`, the relay's webhook receiver, in the test's event loop
  (:func:`running`): it answers each POST from its script (a status, or a hang of some
  seconds then a status), then with ``default`` once the script is used up.

Both record every request as a :class:`Received`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.ports import free_port, port_open


@dataclass(frozen=True)
class Received:
    """One POST as received: its path, headers (lower-case names) and body."""

    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int = 0

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events of a notification envelope."""
        events = json.loads(self.body)["events"]
        assert isinstance(events, list)
        return events


@dataclass(frozen=True)
class Hang:
    """Answer ``status`` only after ``seconds``."""

    seconds: float
    status: int = 200


Step = int | Hang


@dataclass
class Receiver:
    script: list[Step] = field(default_factory=list)
    default: Step = 200
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    retry_after: str | None = None  # sent with every answer of 300 and more
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def next_step(self) -> Step:
        return self.script.pop(0) if self.script else self.default

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        port = request.client.port if request.client else 0
        self.requests.append(Received(request.url.path, dict(request.headers), body, port))
        self.arrived.set()
        step = self.next_step()
        if isinstance(step, Hang):
            await asyncio.sleep(step.seconds)
            step = step.status
        headers = {"Retry-After": self.retry_after} if self.retry_after and step >= 300 else None
        return Response(b"ok" if step < 300 else b"nope", status_code=step, headers=headers)

    def bodies(self) -> list[bytes]:
        return [r.body for r in self.requests]

    async def wait_for(self, count: int, within: float = 20.0) -> None:
        """Until ``count`` requests arrived (fails the test after ``within`` seconds)."""
        async with asyncio.timeout(within):
            while len(self.requests) < count:
                self.arrived.clear()
                await self.arrived.wait()


@contextlib.asynccontextmanager
async def running(receiver: Receiver, path: str = "/hook") -> AsyncIterator[Receiver]:
    """Serve ``receiver`` on 127.0.0.1 for the duration of the block."""
    app = Starlette(routes=[Route(path, receiver.handle, methods=["POST"])])
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                await asyncio.sleep(0.02)
        receiver.url = f"http://127.0.0.1:{port}{path}"
        yield receiver
    finally:
        server.should_exit = True
        server.force_exit = True
        await asyncio.wait_for(task, timeout=10)


@contextlib.asynccontextmanager
async def receivers(*scripts: Sequence[Step]) -> AsyncIterator[list[Receiver]]:
    """Several receivers at once, one per script."""
    async with contextlib.AsyncExitStack() as stack:
        found = [await stack.enter_async_context(running(Receiver(script=list(s)))) for s in scripts]
        yield found


def dead_url() -> str:
    """A loopback URL where nothing listens: connections are refused."""
    return f"http://127.0.0.1:{free_port()}/hook"


class RecordingReceiver:
    """Records every ``POST /events`` it gets; start and stop it as a context manager.

    ``statuses``: answers to give to the first requests, in order (e.g. ``[503, 503]``), before
    answering 200 to everything; the failed deliveries are recorded too.
    """

    def __init__(self, host: str = "127.0.0.1", statuses: Sequence[int] = ()) -> None:
        self.host = host
        self.port = free_port(host)
        self.deliveries: list[Received] = []
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
            port = request.client.port if request.client else 0
            self.deliveries.append(Received(request.url.path, dict(request.headers), body, port))
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
