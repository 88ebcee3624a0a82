"""Hostile input against a real dashboard server over real sockets: path traversal on the
static files, oversized heads and cookies, forged and expired session cookies, a token in
the query string, oversized and slow bodies. Every answer is a clear 4xx (or a closed
connection), the server stays up, and every answer carries the security headers."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import itsdangerous
import pytest

from consumers.dashboard.access import COOKIE
from consumers.dashboard.hardening import CSP
from consumers.dashboard.limits import RequestLimits
from tests.consumers.dashboard.access import NOW, VIEWER, bearer, secured, sign_in, store_with_a_repository
from tests.consumers.dashboard.server import running_dashboard
from tests.support.rawhttp import RawAnswer, exchange, trickle

LIMITS = RequestLimits(
    max_head_bytes=32 * 1024, header_timeout=1.0, max_body_bytes=64 * 1024, body_timeout=1.0
)
SECRET = "s" * 40


@dataclasses.dataclass
class Served:
    base: str
    port: int

    async def raw(self, data: bytes, within: float = 10.0) -> RawAnswer:
        return await asyncio.to_thread(exchange, self.port, data, within)

    async def alive(self) -> bool:
        async with httpx.AsyncClient(base_url=self.base) as client:
            return (await client.get("/healthz")).status_code == 200


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    url = await store_with_a_repository(f"sqlite:///{tmp_path}/store.db")
    settings = dataclasses.replace(secured(url, session_secret=SECRET), limits=LIMITS)
    async with running_dashboard(settings, NOW) as base:
        yield Served(base, int(base.rsplit(":", 1)[1].strip("/")))


def get(path: bytes, *headers: bytes) -> bytes:
    return b"\r\n".join([b"GET " + path + b" HTTP/1.1", b"Host: 127.0.0.1", *headers]) + b"\r\n\r\n"


TRAVERSALS = [
    b"/static/../app.py",
    b"/static/..%2fapp.py",
    b"/static/%2e%2e/app.py",
    b"/static/%2e%2e%2fapp.py",
    b"/static/%252e%252e%252fapp.py",
    b"/static/vendor/../../app.py",
    b"/static/....//app.py",
    b"/static//etc/passwd",
    b"/static/..\\app.py",
    b"/static/%5c..%5capp.py",
    b"/static/index.html%00.js",
    b"/static/../../../../../../etc/passwd",
]


async def test_static_paths_never_leave_the_package(served: Served) -> None:
    for path in TRAVERSALS:
        answer = await served.raw(get(path))
        assert answer.status in (400, 401, 404), (path, answer.status)
        assert b"def create_app" not in answer.body and b"root:" not in answer.body, path
    async with httpx.AsyncClient(base_url=served.base) as client:
        script = await client.get("/static/dashboard.js")  # public: the sign-in page needs the CSS
        assert script.status_code == 200 and "cache-control" not in script.headers
        assert script.headers["content-security-policy"] == CSP


async def test_oversized_heads_and_cookies_get_431_and_the_server_stays_up(served: Served) -> None:
    cases = {
        "one header of 40 KiB": get(b"/api/v1/summary", b"X-Big: " + b"a" * 40_000),
        "a 40 KiB cookie": get(b"/api/v1/summary", f"Cookie: {COOKIE}=".encode() + b"b" * 40_000),
        "10,000 small headers": get(b"/", *[b"X-%d: 1" % i for i in range(10_000)]),
        "a 40 KiB URL": get(b"/api/v1/summary?x=" + b"c" * 40_000),
    }
    for name, data in cases.items():
        answer = await served.raw(data)
        assert answer.status == 431, (name, answer.status, answer.head[:200])
    endless = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: " + b"d" * 5_000_000  # never ends
    answer = await served.raw(endless)
    assert answer.status == 431
    below = get(b"/api/v1/summary", b"X-Big: " + b"a" * 20_000, b"Authorization: Bearer " + VIEWER.encode())
    assert (await served.raw(below)).status == 200  # under the cap: served
    assert await served.alive()


def session_cookie(payload: dict[str, object], secret: str = SECRET, signed_at: int | None = None) -> str:
    """A session cookie as Starlette's SessionMiddleware writes it, signed at ``signed_at``."""
    signer = itsdangerous.TimestampSigner(secret)
    if signed_at is not None:
        signer.get_timestamp = lambda: signed_at  # type: ignore[method-assign]
    return signer.sign(base64.b64encode(json.dumps(payload).encode())).decode()


async def test_forged_and_expired_session_cookies_are_refused(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.base) as client:
        await sign_in(client, VIEWER)
        genuine = client.cookies[COOKIE]
        data, _, _ = genuine.partition(".")
        payload = json.loads(base64.b64decode(data))
        assert set(payload) == {"sid", "csrf", "cred", "exp"} and VIEWER not in genuine
        now = int(time.time())
        forged = {
            "another secret": session_cookie(payload, secret="x" * 40),
            "a changed payload": session_cookie({**payload, "cred": "0" * 32}),
            "garbage": "not-a-cookie",
            "the signature cut": genuine.rsplit(".", 1)[0],
            "signed over 8 h ago": session_cookie(payload, signed_at=now - 9 * 3600),
            "past its own expiry": session_cookie({**payload, "exp": now - 1}),
            "a role it never had": session_cookie({**payload, "role": "admin"}),
        }
        for name, cookie in forged.items():
            client.cookies.clear()
            client.cookies.set(COOKIE, cookie)
            answer = await client.get("/api/v1/summary")
            expected = 200 if name == "a role it never had" else 401  # extra keys change nothing
            assert answer.status_code == expected, name
            if expected == 200:  # and grant nothing: the role comes from the token, not the cookie
                assert "· viewer" in (await client.get("/")).text
        client.cookies.clear()
        client.cookies.set(COOKIE, genuine)
        assert (await client.get("/api/v1/summary")).status_code == 200


async def test_a_token_in_the_query_string_is_refused_and_never_logged(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    async with httpx.AsyncClient(base_url=served.base) as client:
        with caplog.at_level(logging.DEBUG):
            for name in ("access_token", "token", "api_key", "Authorization"):
                answer = await client.get("/api/v1/summary", params={name: VIEWER}, headers=bearer(VIEWER))
                assert answer.status_code == 400, name
                assert "not accepted in the query string" in answer.json()["detail"]
                assert VIEWER not in answer.text
            page = await client.get("/", params={"token": VIEWER}, headers={"Accept": "text/html"})
            assert page.status_code == 400
    # The dashboard's own lines; the test's client (httpx) logs its URLs, and pytest hooks
    # uvicorn's access logger, which the dashboard turns off (test_secrets.py reads a real
    # process's whole output).
    own = [r for r in caplog.records if r.name.startswith("consumers.")]
    logged = "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in own)
    assert "credential in a query string refused" in logged
    assert VIEWER not in logged and VIEWER[:12] not in logged


async def test_oversized_and_slow_bodies_and_silent_clients(served: Served) -> None:
    origin = served.base.rstrip("/").encode()
    host = origin.removeprefix(b"http://")
    head = b"POST /signin HTTP/1.1\r\nHost: " + host + b"\r\nOrigin: " + origin
    form = b"\r\nContent-Type: application/x-www-form-urlencoded"
    declared = await served.raw(head + form + b"\r\nContent-Length: 100000000\r\n\r\n")
    assert declared.status == 413
    body = b"token=" + b"x" * 100_000
    streamed = await served.raw(head + form + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(body))
    assert streamed.status == 413
    slow_head = head + form + b"\r\nContent-Length: 200\r\n\r\n"
    answer, took = await asyncio.to_thread(trickle, served.port, slow_head, b"t" * 200, 0.2, 10.0)
    assert answer.status == 408 and answer.closed and took < 5, (answer.status, took)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as silent:
        closed = await asyncio.to_thread(silent.recv, 1)
    assert closed == b"" and time.monotonic() - started < 5  # closed after the 1 s header timeout
    assert await served.alive()


def _chunked(body: bytes, size: int = 8192) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


async def test_every_answer_carries_the_security_headers(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.base) as client:
        answers = [
            await client.get("/signin"),
            await client.get("/api/v1/summary"),  # 401
            await client.get("/api/v1/summary", headers=bearer(VIEWER)),
            await client.get("/nowhere", headers=bearer(VIEWER)),  # 404
            await client.post("/signout"),  # 403: no origin
        ]
    assert [a.status_code for a in answers] == [200, 401, 200, 404, 403]
    for answer in answers:
        headers = answer.headers
        assert headers["content-security-policy"] == CSP
        assert "frame-ancestors 'none'" in CSP and "script-src 'self';" in CSP and "unsafe-inline" not in CSP
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"
        assert "server" not in headers and "strict-transport-security" not in headers  # plain HTTP
