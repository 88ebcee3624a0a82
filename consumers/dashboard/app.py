"""The dashboard's ASGI app: the page, its static files, the JSON API and its OpenAPI schema.

The app is built from explicit lists. Its lifespan owns the database engine: it opens it
at start-up through the ``open_engine`` callable it is given, hands it to the handlers
through ``request.state.engine``, and disposes of it at shutdown. The clock is injected
the same way (``request.state.clock``), so tests can pin "now".

Every route of the list is guarded (:mod:`consumers.dashboard.access`): reads need the
viewer role and anything else admin, unless the list declares the route ``public`` or
``admin``; a route added without a word about access is covered all the same.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypedDict

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from consumers.dashboard import api
from consumers.dashboard.access import Access, public
from consumers.dashboard.hardening import QueryCredentials, SecurityHeaders
from consumers.dashboard.limits import BodyTimeout
from consumers.dashboard.openapi import openapi_route
from consumers.dashboard.params import BadQuery, Clock, utc_now
from consumers.dashboard.requestlog import RequestLog
from consumers.dashboard.settings import DashboardSettings

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("consumers.dashboard")


class State(TypedDict):
    engine: AsyncEngine
    clock: Clock
    settings: DashboardSettings


def page_html(settings: DashboardSettings) -> str:
    template = (STATIC / "index.html").read_text(encoding="utf-8")
    template = template.replace("{{LIVE_SECONDS}}", str(settings.live_seconds))
    return template.replace("{{REFRESH_SECONDS}}", str(settings.refresh_seconds))


def page_route(settings: DashboardSettings, access: Access) -> Route:
    html = page_html(settings)

    async def index(request: Request) -> Response:
        page = html
        for placeholder, value in access.page_parts(request).items():
            page = page.replace(placeholder, value)
        return HTMLResponse(page)

    return Route("/", index, methods=["GET"], include_in_schema=False)


async def healthz(request: Request) -> Response:
    """Liveness for container healthchecks, without authentication: says nothing but "ok"
    (the store's health is ``/api/v1/health``, for viewers)."""
    return JSONResponse({"status": "ok"})


async def bad_query(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": str(exc)}, status_code=400)


async def store_error(request: Request, exc: Exception) -> Response:
    """The store did not answer (down, unreachable, no schema): ``503``, and one log line."""
    first_line = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
    log.warning("store error", extra={"fields": {"path": request.url.path, "error": first_line}})
    return JSONResponse({"detail": f"the store did not answer: {first_line}"}, status_code=503)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def routes(settings: DashboardSettings, access: Access, api_routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    return [
        page_route(settings, access),
        *api_routes,
        openapi_route(api_routes),
        *access.routes(),
        public(Route("/healthz", healthz, methods=["GET"], include_in_schema=False)),
        public(Mount("/static", app=StaticFiles(directory=STATIC), name="static")),
    ]


def middleware(settings: DashboardSettings, access: Access) -> list[Middleware]:
    """Outermost first (Starlette's error handler and body-size limit come before these)."""
    return [
        Middleware(SecurityHeaders, tls=settings.tls.enabled),
        Middleware(RequestLog),
        Middleware(BodyTimeout, timeout=settings.limits.body_timeout),
        Middleware(QueryCredentials),
        *access.middleware(),
    ]


def create_app(
    settings: DashboardSettings,
    open_engine: Callable[[], AsyncEngine],
    *,
    clock: Clock = utc_now,
    api_routes: Sequence[BaseRoute] | None = None,
) -> Starlette:
    """The dashboard app; ``open_engine`` is called once, in the lifespan. ``api_routes``
    (default :func:`consumers.dashboard.api.routes`) is the API's route list."""
    access = Access(settings.access)
    listed = routes(settings, access, api.routes() if api_routes is None else api_routes)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        engine = open_engine()
        try:
            yield {"engine": engine, "clock": clock, "settings": settings}
        finally:
            await engine.dispose()

    return Starlette(
        routes=access.guard(listed),
        middleware=middleware(settings, access),
        max_body_size=settings.limits.max_body_bytes,
        exception_handlers={
            BadQuery: bad_query,
            HTTPException: http_error,
            DBAPIError: store_error,
            OSError: store_error,  # a connection the driver could not open
        },
        lifespan=lifespan,
    )
