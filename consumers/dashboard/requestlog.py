"""One log line per request of the dashboard: method, path (never the query string, which
could hold anything), status, the user and how it was authenticated, and the time taken.
Static files and ``/healthz`` (a container healthcheck every few seconds) are logged at
DEBUG, everything else at INFO: 401s and 403s are the trail of who was refused what."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consumers.dashboard.access import Principal

log = logging.getLogger("consumers.dashboard.request")
MAX_PATH = 300


class RequestLog:
    def __init__(self, app: ASGIApp, *, quiet: tuple[str, ...] = ("/static/", "/healthz")) -> None:
        self.app, self.quiet = app, quiet

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 0

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            user = scope.get("user")
            principal = user if isinstance(user, Principal) else None
            fields = {
                "method": scope["method"],
                "path": scope["path"][:MAX_PATH],
                "status": status or 500,
                "user": principal.name if principal else None,
                "via": principal.via.value if principal else None,
                "peer": scope["client"][0] if scope.get("client") else None,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }
            quiet = scope["path"].startswith(self.quiet)
            log.log(logging.DEBUG if quiet else logging.INFO, "request", extra={"fields": fields})
