"""The access control of one dashboard app, made once by ``create_app`` from the settings:
the token check, the sessions, the middleware that establishes who a request is, the
sign-in routes, and the guard around every route."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.routing import BaseRoute

from consumers.dashboard.access.credentials import Authenticator, token_check
from consumers.dashboard.access.guard import GuardPolicy, guarded
from consumers.dashboard.access.pages import SignIn, page_access
from consumers.dashboard.access.sessions import COOKIE, Sessions
from consumers.dashboard.access.settings import AccessSettings


class Access:
    def __init__(self, settings: AccessSettings) -> None:
        self.settings = settings
        self.tokens = token_check(settings)
        self.sessions = Sessions(self.tokens, settings.session_secret, settings.session_seconds)
        self.sign_in = SignIn(settings, self.tokens, self.sessions)

    def middleware(self) -> list[Middleware]:
        """Outermost first: the signed session cookie, then who the request is."""
        return [
            Middleware(
                SessionMiddleware,
                secret_key=self.settings.session_secret,
                session_cookie=COOKIE,
                max_age=self.settings.session_seconds,
                same_site="strict",
                https_only=self.settings.secure_cookies,
            ),
            Middleware(
                AuthenticationMiddleware, backend=Authenticator(self.settings, self.tokens, self.sessions)
            ),
        ]

    def routes(self) -> list[BaseRoute]:
        return self.sign_in.routes()

    def guard(self, routes: Sequence[BaseRoute]) -> list[BaseRoute]:
        return guarded(routes, GuardPolicy(origins=self.settings.origins))

    def page_parts(self, request: Request) -> dict[str, str]:
        return page_access(request, self.sessions)
