"""Real HTTP receivers for relay tests: a Starlette app under uvicorn on a free loopback port.

A :class:`Receiver` answers each POST from its script (a status, or a hang of some seconds
then a status), then with ``default`` once the script is used up, and records every request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.ports import free_port


@dataclass(frozen=True)
class Hang:
    """Answer ``status`` only after ``seconds``."""

    seconds: float
    status: int = 200


Step = int | Hang


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


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
