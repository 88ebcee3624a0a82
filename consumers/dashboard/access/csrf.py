"""Cross-site request forgery: what every state-changing request must show.

A request with any method but GET, HEAD and OPTIONS that is not authenticated by its own
``Authorization`` header (a browser never adds one by itself) must
1. come from the dashboard's own origin: its ``Origin`` header (or, without one, its
   ``Referer``) names ``REGBRIDGE_DASHBOARD_ORIGINS``, or, when that is unset, the host
   the request was sent to (``Host``); and
2. carry the session's CSRF token, in an ``X-CSRF-Token`` header (the page's scripts) or
   a ``csrf_token`` form field; only the sign-in form is exempt (there is no session
   yet), and the origin check still applies to it.
The session cookie is ``SameSite=Strict`` as well, so a cross-site request does not even
carry it; these checks hold without relying on that.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADER = "x-csrf-token"
FIELD = "csrf_token"
FORM = "application/x-www-form-urlencoded"
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class Refused(Exception):
    """The request failed a CSRF check; the message says which (for the 403 answer)."""


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased, default ports dropped."""
    parts = urlsplit(url.strip().lower())
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = parts.port
    except ValueError:
        return None
    keep = port is not None and str(port) != _DEFAULT_PORTS[parts.scheme]
    return f"{parts.scheme}://{host}{f':{port}' if keep else ''}"


def check_origin(scope: Scope, origins: tuple[str, ...]) -> None:
    headers = Headers(scope=scope)
    sent = headers.get("origin")
    if sent is None or sent == "null":
        sent = headers.get("referer")
    origin = origin_of(sent) if sent else None
    if origin is None:
        raise Refused("a state-changing request needs an Origin or Referer header")
    if origins:
        if origin not in origins:
            raise Refused(f"cross-origin request refused ({origin})")
        return
    host = headers.get("host", "").lower()
    if origin.split("://", 1)[1] != _without_default_port(host, origin.split("://", 1)[0]):
        raise Refused(f"cross-origin request refused ({origin})")


def _without_default_port(host: str, scheme: str) -> str:
    return host.removesuffix(":" + _DEFAULT_PORTS[scheme])


async def check_token(scope: Scope, receive: Receive, expected: str | None) -> Receive:
    """Checks the CSRF token; returns a ``receive`` that replays the body it had to read
    (a form's field), so the endpoint reads the same body."""
    headers = Headers(scope=scope)
    presented = headers.get(HEADER)
    body, replay = b"", receive
    if presented is None and headers.get("content-type", "").split(";")[0].strip().lower() == FORM:
        body, replay = await buffered(receive)
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=50)
        presented = (fields.get(FIELD) or [""])[0] or None
    if not expected or not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise Refused("the CSRF token is missing or wrong: reload the page")
    return replay


async def buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body (the app's body limit applies to ``receive``) and a replay of it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay
