"""What the access tests share: tokens, settings with tokens, a store with one repository,
routes added to the API the way a new feature would add them, and signing in."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from consumers.dashboard import api
from consumers.dashboard.access import AccessSettings, admin, record_admin_action
from consumers.dashboard.settings import DashboardSettings
from consumers.store.engine import create_engine
from consumers.store.tables import audit_log, repositories
from tests.support.database import migrate_store

NOW = datetime(2026, 11, 29, 2, 10, tzinfo=UTC)
VIEWER = "viewer-Kq3fP9sT0wXb7LmN2cRd"
VIEWER_NEXT = "viewer-next-Zt8Hy4Gv1QeUo6Ja"  # the rotation's new token
ADMIN = "admin-Hs5Lw2Ne9RbXc4TfYp7Q"
REPOSITORY = "team/hello"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def secured(database_url: str, **access: Any) -> DashboardSettings:
    """A dashboard with two viewer tokens (a rotation) and an admin token."""
    chosen = {"viewer_tokens": (VIEWER, VIEWER_NEXT), "admin_tokens": (ADMIN,), **access}
    return DashboardSettings(database_url=database_url, access=AccessSettings(**chosen))


async def store_with_a_repository(database_url: str) -> str:
    await migrate_store(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            moment = NOW.replace(tzinfo=None)
            row = {"name": REPOSITORY, "first_seen_at": moment, "last_event_at": moment}
            await conn.execute(repositories.insert().values(**row))
    finally:
        await engine.dispose()
    return database_url


async def echo(request: Request) -> Response:
    """
    summary: A read a new feature adds without a word about access.
    responses:
      200:
        description: Who asked.
    """
    return JSONResponse({"user": request.user.display_name})


async def change(request: Request) -> Response:
    """
    summary: A state change a new feature adds without a word about access; it records itself.
    responses:
      200:
        description: The audit row's event id.
    """
    event_id = await record_admin_action(request, "test.change", repository=REPOSITORY, details={"n": 1})
    return JSONResponse({"event_id": event_id})


async def secret_read(request: Request) -> Response:
    """
    summary: A read declared admin-only in the route list.
    responses:
      200:
        description: Only admins see it.
    """
    return JSONResponse({"ok": True})


def api_with_new_routes() -> list[BaseRoute]:
    """The API plus what a later feature adds: an undeclared GET and POST, and an admin GET."""
    return [
        *api.routes(),
        Route(api.PREFIX + "/test/echo", echo, methods=["GET"]),
        Route(api.PREFIX + "/test/change", change, methods=["POST"]),
        admin(Route(api.PREFIX + "/test/secret", secret_read, methods=["GET"])),
    ]


def page_csrf_token(page: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, token: str, next_path: str = "/") -> httpx.Response:
    """POST the sign-in form as the browser does (same-origin ``Origin``)."""
    origin = str(client.base_url).rstrip("/")
    form = {"token": token, "next": next_path}
    return await client.post("/signin", data=form, headers={"Origin": origin})


def fingerprint(token: str) -> str:
    """How the dashboard names a token in logs and the audit log (after ``token-``)."""
    return hashlib.sha256(token.encode()).hexdigest()[:8]


async def audit_rows(database_url: str) -> list[dict[str, Any]]:
    """Every row of the store's audit log."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return [dict(row._mapping) for row in await conn.execute(audit_log.select())]
    finally:
        await engine.dispose()
