"""Who sent a request: the backend of Starlette's ``AuthenticationMiddleware``.

In this order:
1. no authentication configured: the anonymous principal (``REGBRIDGE_DASHBOARD_ANONYMOUS_ROLE``);
2. from a trusted proxy (``REGBRIDGE_DASHBOARD_TRUSTED_PROXIES``, the TCP peer's address,
   never ``X-Forwarded-For``) with the user header: that user, with the role the lists give;
   the same header from any other address is ignored (and logged);
3. ``Authorization: Bearer <token>``: the token's role; a wrong token is not retried as a
   session, the request is simply unauthenticated (401 where a role is needed). Other
   schemes (``Basic``, which browsers and some proxies add by themselves) are not ours and
   are ignored;
4. the session cookie of a token sign-in.
Nothing matched: ``request.user`` is unauthenticated, and the route guard answers 401.
"""

from __future__ import annotations

import logging

from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.requests import HTTPConnection

from common.tokens import TokenCheck, bearer_token
from consumers.dashboard.access.roles import Principal, Role, Via
from consumers.dashboard.access.sessions import Sessions
from consumers.dashboard.access.settings import AccessSettings

log = logging.getLogger("consumers.dashboard.access")
MAX_NAME = 256
INVALID_TOKEN = "regbridge.invalid_token"  # noqa: S105 (a scope key): a bearer token was presented and refused


def token_check(settings: AccessSettings) -> TokenCheck:
    return TokenCheck.labelled({"viewer": settings.viewer_tokens, "admin": settings.admin_tokens})


class Authenticator(AuthenticationBackend):
    def __init__(self, settings: AccessSettings, tokens: TokenCheck, sessions: Sessions) -> None:
        self.settings, self.tokens, self.sessions = settings, tokens, sessions

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        principal = self.principal(conn)
        if principal is None:
            return None
        return AuthCredentials(principal.role.scopes if principal.role else []), principal

    def principal(self, conn: HTTPConnection) -> Principal | None:
        if self.settings.anonymous:
            return Principal("anonymous", self.settings.anonymous_role, Via.ANONYMOUS)
        found = self.from_proxy(conn)
        if found is not None:
            return found
        presented = bearer_token(conn.headers.get("authorization"))
        if presented is not None:
            return self.from_token(conn, presented)
        return self.sessions.principal(conn.session)

    def from_proxy(self, conn: HTTPConnection) -> Principal | None:
        proxy = self.settings.proxy
        if not proxy.enabled or proxy.user_header not in conn.headers:
            return None
        peer = conn.client.host if conn.client else None
        if not proxy.trusts(peer):
            fields = {"peer": peer, "header": proxy.user_header}
            log.warning("trusted user header from an untrusted address ignored", extra={"fields": fields})
            return None
        user = _clean(conn.headers.get(proxy.user_header, ""))
        if not user:
            return None
        groups = frozenset(
            group
            for value in conn.headers.getlist(proxy.groups_header)
            if proxy.groups_header
            for group in (_clean(g) for g in value.split(","))
            if group
        )
        return Principal(user, proxy.role_of(user, groups), Via.PROXY)

    def from_token(self, conn: HTTPConnection, presented: bytes) -> Principal | None:
        match = self.tokens.identify(presented)
        if match is None:
            conn.scope[INVALID_TOKEN] = True
            return None
        return Principal(f"token-{match.fingerprint}", Role(match.label), Via.TOKEN)


def _clean(value: str) -> str:
    """A user or group name from a header: trimmed; refused (empty) when overlong or with
    control characters."""
    value = value.strip()
    if len(value) > MAX_NAME or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return ""
    return value
