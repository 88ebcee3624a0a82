"""A proxy in front of the real registry that misbehaves on demand, for the reconcile's failure
tests: what a registry, or a load balancer or proxy in front of one, does on a bad day.

Requests go to the real registry unchanged (credentials included) unless a :class:`Fault`
matches (method and a regular expression on the path and query), in which case it can:
answer a status of its own (5xx, 429 with ``Retry-After``, 403) for its first ``times``
requests; wait ``delay`` seconds first (a timeout); hold the request before or after it is
forwarded until the test releases it (a race); replace the body of the answer, or its
``Link`` header. Every request is recorded (method, path, status).

uvicorn on a free loopback port, in a thread of its own.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.ports import free_port

HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "content-encoding"}


@dataclass
class Fault:
    method: str
    path: str  # a regular expression searched in "path?query"
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    times: int | None = None  # how many requests it applies to (None: all)
    delay: float = 0.0
    rewrite_body: Callable[[bytes], bytes] | None = None
    link: str | None = None  # the Link header to answer with instead
    hold_before: threading.Event | None = None  # wait for it before forwarding
    hold_after: threading.Event | None = None  # forward, then wait for it before answering
    held: threading.Event = field(default_factory=threading.Event)  # set when held before forwarding
    answered: threading.Event = field(default_factory=threading.Event)  # set when held after it
    hits: int = 0

    def matches(self, method: str, target: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return self.method in (method, "*") and re.search(self.path, target) is not None


@dataclass(frozen=True)
class Seen:
    method: str
    target: str
    status: int
    peer: int = 0  # the client's port: one per TCP connection


class RegistryFront:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.seen.clear()

    def requests(self, method: str | None = None, path: str = "") -> list[Seen]:
        with self._lock:
            return [
                s for s in self.seen if (method is None or s.method == method) and re.search(path, s.target)
            ]

    def _fault(self, method: str, target: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, target):
                    fault.hits += 1
                    return fault
        return None

    async def _handle(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        fault = self._fault(request.method, target)
        try:
            response = await self._answer(request, target, fault)
        except ClientDisconnect:  # the client gave up waiting (a timeout under test)
            return Response(b"", 499)
        with self._lock:
            peer = request.client.port if request.client else 0
            self.seen.append(Seen(request.method, target, response.status_code, peer))
        return response

    async def _answer(self, request: Request, target: str, fault: Fault | None) -> Response:
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.hold_before is not None:
            fault.held.set()
            await asyncio.to_thread(fault.hold_before.wait, 60)
        if fault is not None and fault.status is not None:
            return Response(fault.body, fault.status, headers=fault.headers)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        async with httpx.AsyncClient(timeout=60.0) as client:
            answer = await client.request(
                request.method, self.upstream + target, headers=headers, content=await request.body()
            )
        body, out = answer.content, {k: v for k, v in answer.headers.items() if k.lower() not in HOP}
        if fault is not None and fault.rewrite_body is not None:
            body = fault.rewrite_body(body)
        if fault is not None and fault.link is not None:
            out["link"] = fault.link
        if fault is not None and fault.hold_after is not None:
            fault.answered.set()
            await asyncio.to_thread(fault.hold_after.wait, 60)
        if request.method == "HEAD":
            return Response(
                b"",
                answer.status_code,
                headers=out | {"content-length": answer.headers.get("content-length", "0")},
            )
        return Response(body, answer.status_code, headers=out)

    def start(self) -> None:
        app = Starlette(
            routes=[
                Route("/{path:path}", self._handle, methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"])
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=asyncio.run, args=(self._server.serve(),), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the registry front did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        with self._lock:
            for fault in self.faults:  # nothing stays held
                for event in (fault.hold_before, fault.hold_after):
                    if event is not None:
                        event.set()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)

    def __enter__(self) -> RegistryFront:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
