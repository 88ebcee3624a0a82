"""What the dashboard's access control costs per request, in CPU time.

Not a test (nothing here is collected by pytest). Run it with

    .venv/bin/python -m tests.benchmarks.bench_dashboard_access [--requests 4000]

It drives the dashboard app in this process (httpx's ASGI transport: no sockets, no
server) with one trivial guarded read, ``GET /api/v1/bench`` (it touches no store), and
reports CPU microseconds per request (``time.process_time``, steadier than wall time on a
shared machine) for: a bare Starlette app with only that route (the floor), the dashboard
anonymous, with a bearer token (2 and 20 configured tokens), with a session cookie, and
through a trusted proxy's header. The difference to the floor is what the middleware
(security headers, request log, limits, session, authentication, guard) costs.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import time
from collections.abc import Mapping

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from consumers.dashboard.access import AccessSettings, ProxySettings
from consumers.dashboard.app import create_app
from consumers.dashboard.settings import DashboardSettings
from consumers.store.engine import create_engine

TOKEN = "bench-viewer-token-0123456789"


async def bench(request: Request) -> Response:
    return JSONResponse({"ok": True})


ROUTES = [Route("/api/v1/bench", bench, methods=["GET"])]


def dashboard(access: AccessSettings) -> Starlette:
    settings = DashboardSettings(database_url="sqlite:///:memory:", access=access)
    return create_app(settings, lambda: create_engine(settings.database_url), api_routes=ROUTES)


async def cpu_per_request(
    app: Starlette, headers: Mapping[str, str], count: int, cookies: bool = False
) -> float:
    transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8090") as client:
        if cookies:
            origin = {"Origin": "http://127.0.0.1:8090"}
            signed = await client.post("/signin", data={"token": TOKEN, "next": "/"}, headers=origin)
            assert signed.status_code == 303, signed.text
        for _ in range(200):  # warm up
            answer = await client.get("/api/v1/bench", headers=dict(headers))
            assert answer.status_code == 200, answer.text
        started = time.process_time()
        for _ in range(count):
            await client.get("/api/v1/bench", headers=dict(headers))
        return (time.process_time() - started) / count * 1e6


async def main(count: int) -> None:
    logging.disable(logging.INFO)  # the request log line is not what is measured here
    many = (*(f"{TOKEN}-{i:02d}" for i in range(19)), TOKEN)
    proxy = ProxySettings(user_header="x-forwarded-user", trusted=(ipaddress.ip_network("10.0.0.7/32"),))
    cases = [
        ("bare Starlette, same route (floor)", Starlette(routes=ROUTES), {}, False),
        ("dashboard, anonymous", dashboard(AccessSettings()), {}, False),
        (
            "dashboard, bearer token (2 tokens)",
            dashboard(AccessSettings(viewer_tokens=(TOKEN, TOKEN + "x"))),
            {"Authorization": f"Bearer {TOKEN}"},
            False,
        ),
        (
            "dashboard, bearer token (20 tokens)",
            dashboard(AccessSettings(viewer_tokens=many)),
            {"Authorization": f"Bearer {TOKEN}"},
            False,
        ),
        ("dashboard, session cookie", dashboard(AccessSettings(viewer_tokens=(TOKEN,))), {}, True),
        (
            "dashboard, trusted proxy header",
            dashboard(AccessSettings(proxy=proxy)),
            {"X-Forwarded-User": "alice"},
            False,
        ),
    ]
    print(f"load average before: {os.getloadavg()[0]:.2f}; {count} requests per case")
    floor = None
    for name, app, headers, cookies in cases:
        micros = await cpu_per_request(app, headers, count, cookies)
        floor = micros if floor is None else floor
        print(f"{name:40s} {micros:8.1f} µs CPU/request  (+{micros - floor:.1f})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    asyncio.run(main(parser.parse_args().requests))
