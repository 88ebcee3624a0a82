"""Request limits of the dashboard, as on the bridge: the size of a request's head (431)
and body (413), and how long each may take (the connection is closed; 408).

The head (request line and headers, cookies included) is capped and timed by the shared
protocol (:mod:`common.protocol`); the body's size by Starlette (``max_body_size``); its
time by :class:`BodyTimeout`: uvicorn has no body-read timeout of its own, so a client
trickling a body would hold its connection for ever.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.environ import Environ

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RequestLimits:
    max_head_bytes: int = 32 * 1024
    header_timeout: float = 10.0
    max_body_bytes: int = MIB
    body_timeout: float = 10.0

    @classmethod
    def from_environ(cls, env: Environ) -> RequestLimits:
        return cls(
            max_head_bytes=env.integer("DASHBOARD_MAX_HEADER_BYTES", 32 * 1024, minimum=4096),
            header_timeout=env.number("DASHBOARD_HEADER_TIMEOUT_SECONDS", 10.0, minimum=0.1),
            max_body_bytes=env.integer("DASHBOARD_MAX_BODY_BYTES", MIB, minimum=1024),
            body_timeout=env.number("DASHBOARD_BODY_TIMEOUT_SECONDS", 10.0, minimum=0.1),
        )


class BodyTimedOut(Exception):
    pass


class BodyTimeout:
    """The whole body must arrive within ``timeout`` seconds of the request's start, else
    408 with ``Connection: close`` (or, once an answer has started, the request fails)."""

    def __init__(self, app: ASGIApp, *, timeout: float) -> None:
        self.app, self.timeout = app, timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.timeout
        started = False
        done = False

        async def timed_receive() -> Message:
            nonlocal done
            if done:  # the body has been read: what is left is the disconnect, which may come late
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise BodyTimedOut from None
            done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, watched_send)
        except BodyTimedOut:
            if started:
                raise
            answer = JSONResponse(
                {"detail": f"the request body did not arrive within {self.timeout:g} s"},
                status_code=408,
                headers={"Connection": "close"},
            )
            await answer(scope, receive, send)
