"""The sign-in and sign-out pages, and what the dashboard page shows of the access state
(who is signed in, the sign-out button, or the anonymous banner).

``GET /signin`` shows a form that takes a token; ``POST /signin`` opens a session and
sends the browser on to ``next``, only ever a path on this dashboard (never another
site). ``POST /signout`` closes it. A wrong token is answered 401 with the form again,
and logged with the client's address, never with the token.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from common.tokens import TokenCheck
from consumers.dashboard.access import csrf
from consumers.dashboard.access.guard import public
from consumers.dashboard.access.roles import Principal, Via
from consumers.dashboard.access.sessions import Sessions
from consumers.dashboard.access.settings import AccessSettings

log = logging.getLogger("consumers.dashboard.access")
TEMPLATE = Path(__file__).resolve().parents[1] / "static" / "signin.html"
_SAFE_NEXT = re.compile(r"/(?![/\\])[^\\\s\x00-\x1f\x7f]*")
MAX_NEXT = 2048
NO_STORE = {"Cache-Control": "no-store"}


def safe_next(target: str | None, root_path: str = "") -> str:
    """``target`` when it is a path on this dashboard, else the dashboard's root: no
    scheme, no ``//host``, no backslash or control character (which browsers read as
    ``/``), so a sign-in link can never send the browser to another site."""
    if target and len(target) <= MAX_NEXT and _SAFE_NEXT.fullmatch(target):
        return target
    return root_path + "/"


class SignIn:
    """The sign-in and sign-out endpoints of one app."""

    def __init__(self, settings: AccessSettings, tokens: TokenCheck, sessions: Sessions) -> None:
        self.settings, self.tokens, self.sessions = settings, tokens, sessions
        self.template = TEMPLATE.read_text(encoding="utf-8")

    def routes(self) -> list[BaseRoute]:
        return [
            public(Route("/signin", self.form, methods=["GET"], include_in_schema=False)),
            public(
                Route("/signin", self.sign_in, methods=["POST"], include_in_schema=False), session_token=False
            ),
            public(Route("/signout", self.sign_out, methods=["POST"], include_in_schema=False)),
        ]

    async def form(self, request: Request) -> Response:
        target = safe_next(request.query_params.get("next"), request.scope.get("root_path", ""))
        if self.settings.anonymous or isinstance(request.user, Principal):
            return RedirectResponse(target, status_code=303)
        return self.page(target, "")

    async def sign_in(self, request: Request) -> Response:
        fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=20)
        token = (fields.get("token") or [""])[0].strip()
        target = safe_next((fields.get("next") or [""])[0], request.scope.get("root_path", ""))
        match = self.tokens.identify(token.encode()) if token else None
        peer = request.client.host if request.client else None
        if match is None:
            log.warning("sign-in refused", extra={"fields": {"peer": peer}})
            return self.page(target, "That token is not accepted.", status=401)
        principal = self.sessions.open(request.session, match)
        fields_out = {"user": principal.name, "role": match.label, "peer": peer}
        log.info("signed in", extra={"fields": fields_out})
        return RedirectResponse(target, status_code=303, headers=NO_STORE)

    async def sign_out(self, request: Request) -> Response:
        user = request.user.display_name if isinstance(request.user, Principal) else None
        self.sessions.close(request.session)
        log.info("signed out", extra={"fields": {"user": user}})
        root = request.scope.get("root_path", "")
        return RedirectResponse(root + ("/" if self.settings.anonymous else "/signin"), status_code=303)

    def page(self, target: str, message: str, status: int = 200) -> Response:
        if self.settings.signs_in_with_tokens:
            how = "Paste a dashboard token (from your operator) to sign in."
        else:
            how = "This dashboard signs you in through your single sign-on proxy; open it through the proxy."
        body = (
            self.template.replace("{{NEXT}}", html.escape(target))
            .replace("{{HOW}}", html.escape(how))
            .replace("{{MESSAGE}}", html.escape(message))
            .replace("{{MESSAGE_HIDDEN}}", "" if message else "hidden")
            .replace("{{FORM_HIDDEN}}", "" if self.settings.signs_in_with_tokens else "hidden")
        )
        return HTMLResponse(body, status_code=status, headers=NO_STORE)


def page_access(request: Request, sessions: Sessions) -> dict[str, str]:
    """The dashboard page's access placeholders: ``{{CSRF_TOKEN}}``, ``{{ROLE}}`` (the
    user's role, for the scripts: they offer admin actions to admins only; the server
    decides all the same), ``{{ACCESS}}`` (who, and the sign-out button) and
    ``{{ACCESS_BANNER}}`` (the anonymous warning)."""
    user = request.user
    token = sessions.csrf_token(request.session)
    parts = {"{{CSRF_TOKEN}}": html.escape(token), "{{ROLE}}": "", "{{ACCESS}}": "", "{{ACCESS_BANNER}}": ""}
    if not isinstance(user, Principal):
        return parts
    role = user.role.value if user.role else "no role"
    parts["{{ROLE}}"] = user.role.value if user.role else ""
    who = f'<span class="who" id="who">{html.escape(user.name)} · {role}</span>'
    if user.via is Via.ANONYMOUS:
        parts["{{ACCESS_BANNER}}"] = (
            '<div class="banner anonymous" id="anonymous" role="note">Anonymous access: this dashboard '
            "has no sign-in (no REGBRIDGE_DASHBOARD_TOKENS, no trusted proxy), so anyone who can reach "
            "its address sees everything it shows. It listens on loopback only unless "
            "REGBRIDGE_DASHBOARD_ALLOW_ANONYMOUS says otherwise.</div>"
        )
    elif user.via is Via.SESSION:
        action = html.escape(request.scope.get("root_path", "") + "/signout")
        who += (
            f'<form method="post" action="{action}" class="signout">'
            f'<input type="hidden" name="{csrf.FIELD}" value="{html.escape(token)}">'
            '<button type="submit" id="signout">Sign out</button></form>'
        )
    parts["{{ACCESS}}"] = who
    return parts
