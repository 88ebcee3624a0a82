"""The role each route needs, and the guard that enforces it on every route of the app.

A route needs, per method, unless it says otherwise:
* ``viewer`` for GET, HEAD and OPTIONS (reads);
* ``admin`` for every other method (anything that changes state).
A route says otherwise in the explicit route list with :func:`admin` (every method needs
admin), :func:`viewer` (every method needs viewer: a read that takes its question as a
body, such as the cleanup preview's policy; its POST still passes the CSRF checks) or
:func:`public` (no role: the sign-in page, static files, ``/healthz``).

:func:`guarded` wraps every route of the app's list in a :class:`Guard` (``create_app``
calls it), so a route added to the list without a word about access is covered all the
same: it needs viewer to read and admin to write. The guard answers 401 without a
principal (a browser asking for a page is sent to the sign-in page), 403 when the role is
not enough, and runs the CSRF checks (:mod:`.csrf`) on every state-changing request.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from consumers.dashboard.access import csrf
from consumers.dashboard.access.credentials import INVALID_TOKEN
from consumers.dashboard.access.roles import Principal, Role, Via

REALM = 'Bearer realm="registry-kafka-bridge dashboard"'
Needs = Role | None  # None: public


@dataclass(frozen=True, slots=True)
class Declared:
    """What a route declared: one role for every method (None: public), and whether its
    state-changing requests need the session's CSRF token (only the sign-in form does not)."""

    role: Needs
    session_token: bool = True


class Requires:
    """The marker :func:`admin` and :func:`public` put around a route's app. Reached
    without a guard around it (a route list not passed through :func:`guarded`), it
    refuses everything: the declaration fails closed."""

    def __init__(self, app: ASGIApp, declared: Declared) -> None:
        self.app, self.declared = app, declared

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await JSONResponse({"detail": "route not guarded"}, status_code=500)(scope, receive, send)


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """What a guard needs from the settings."""

    origins: tuple[str, ...] = ()
    signin_path: str = "/signin"


Guardable = Route | Mount


def admin(route: Guardable) -> Guardable:
    return _declare(route, Declared(Role.ADMIN))


def viewer(route: Guardable) -> Guardable:
    """Every method needs viewer only: for a POST that reads and changes nothing."""
    return _declare(route, Declared(Role.VIEWER))


def public(route: Guardable, *, session_token: bool = True) -> Guardable:
    return _declare(route, Declared(None, session_token))


def _declare(route: Guardable, declared: Declared) -> Guardable:
    route.app = Requires(route.app, declared)
    return route


def by_method(method: str) -> Role:
    return Role.VIEWER if method.upper() in csrf.SAFE_METHODS else Role.ADMIN


def required_role(route: BaseRoute, method: str) -> Needs:
    """The role a request with this method needs on this route (guarded or not yet)."""
    app = getattr(route, "app", None)
    if isinstance(app, Guard):
        return app.needs(method)
    if isinstance(app, Requires):
        return app.declared.role
    return by_method(method)


def guarded(routes: Sequence[BaseRoute], policy: GuardPolicy) -> list[BaseRoute]:
    """A copy of every route with a guard around its app (the routes given are left as they
    are, so one list can serve several apps); a route that cannot be guarded is refused."""
    found: list[BaseRoute] = []
    for route in routes:
        if not isinstance(route, Route | Mount):
            raise TypeError(f"{route!r}: only Route and Mount can be guarded")
        own = copy.copy(route)
        own.app = Guard(route.app.given if isinstance(route.app, Guard) else route.app, policy)
        found.append(own)
    return found


class Guard:
    def __init__(self, app: ASGIApp, policy: GuardPolicy) -> None:
        self.given = app  # the route's app as declared: a Requires marker, or the app itself
        self.app = app.app if isinstance(app, Requires) else app
        self.declared = app.declared if isinstance(app, Requires) else None
        self.policy = policy

    def needs(self, method: str) -> Needs:
        return self.declared.role if self.declared else by_method(method)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        user = scope.get("user")
        principal = user if isinstance(user, Principal) else None
        refusal = self.refusal(scope, method, principal)
        if refusal is None and method not in csrf.SAFE_METHODS and not _by_header(principal):
            try:
                csrf.check_origin(scope, self.policy.origins)
                if self.declared is None or self.declared.session_token:
                    session: dict[str, Any] = scope.get("session", {})
                    receive = await csrf.check_token(scope, receive, session.get("csrf"))
            except csrf.Refused as exc:
                refusal = JSONResponse({"detail": str(exc)}, status_code=403)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope, method: str, principal: Principal | None) -> Response | None:
        role = self.needs(method)
        if role is None:
            return None
        if principal is None:
            return self.unauthorized(scope, method)
        if not principal.may(role):
            held = principal.role.value if principal.role else "no role"
            detail = f"this needs the {role.value} role; {principal.name} has {held}"
            return JSONResponse({"detail": detail}, status_code=403)
        return None

    def unauthorized(self, scope: Scope, method: str) -> Response:
        headers = Headers(scope=scope)
        if method == "GET" and "text/html" in headers.get("accept", ""):
            here = scope["path"]  # the full path, root_path included (ASGI)
            if scope.get("query_string"):
                here += "?" + scope["query_string"].decode("latin-1")
            target = f"{scope.get('root_path', '')}{self.policy.signin_path}?next={quote(here, safe='/')}"
            return RedirectResponse(target, status_code=303)
        challenge = REALM + (', error="invalid_token"' if scope.get(INVALID_TOKEN) else "")
        detail = "sign in, or send Authorization: Bearer <token>"
        return JSONResponse({"detail": detail}, status_code=401, headers={"WWW-Authenticate": challenge})


def _by_header(principal: Principal | None) -> bool:
    """Authenticated by this request's own Authorization header: not forgeable cross-site."""
    return principal is not None and principal.via is Via.TOKEN
