"""What every answer of the dashboard carries, and what it refuses before anything else.

:class:`SecurityHeaders` adds to every response:
* ``Content-Security-Policy``: scripts, styles, images and API calls from the dashboard
  itself only, no inline script, no plugins, no framing (``frame-ancestors 'none'``),
  forms posting only to the dashboard;
* ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` (older browsers),
  ``Referrer-Policy: same-origin``, ``Cross-Origin-Opener-Policy`` and
  ``-Resource-Policy: same-origin``;
* ``Cache-Control: no-store`` on everything but the static files (the answers say who
  pulled what), and ``Strict-Transport-Security`` when the dashboard serves TLS itself.

:class:`QueryCredentials` answers 400 to a request that puts a credential in its query
string (``?access_token=``, ``?token=``, …): URLs end up in proxy logs, browser history
and ``Referer`` headers. The value is never logged, only the parameter's name.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("consumers.dashboard.access")

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
HSTS = "max-age=31536000"
CREDENTIAL_PARAMETERS = frozenset(
    {"access_token", "token", "bearer", "auth", "authorization", "api_key", "apikey", "password"}
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, tls: bool, static_prefix: str = "/static/") -> None:
        self.app, self.tls, self.static_prefix = app, tls, static_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(self.static_prefix)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if not static:
                    headers["cache-control"] = "no-store"
                if self.tls:
                    headers["strict-transport-security"] = HSTS
            await send(message)

        await self.app(scope, receive, with_headers)


class QueryCredentials:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            query = scope["query_string"].decode("latin-1")
            names = {name.lower() for name, _ in parse_qsl(query, keep_blank_values=True)}
            found = sorted(names & CREDENTIAL_PARAMETERS)
            if found:
                log.warning("credential in a query string refused", extra={"fields": {"parameters": found}})
                detail = (
                    f"credentials are not accepted in the query string ({', '.join(found)}): "
                    "send Authorization: Bearer <token>"
                )
                await JSONResponse({"detail": detail}, status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)
