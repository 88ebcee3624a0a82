"""Browser sessions after a token sign-in, kept in Starlette's signed session cookie
(``SessionMiddleware``: itsdangerous signs it with ``REGBRIDGE_DASHBOARD_SESSION_SECRET``
and refuses it once older than the session lifetime).

The cookie holds no token. It holds a random session id, the CSRF token, the absolute
expiry, and ``cred``: an HMAC (keyed by the session secret) of the token's digest, so a
session dies as soon as its token is removed from the configuration (rotation), and the
cookie cannot be used to guess the token offline. Signing out revokes the session id in
this process (held until the session would have expired) and clears the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from common.tokens import TokenCheck, TokenMatch
from consumers.dashboard.access.roles import Principal, Role, Via

COOKIE = "regbridge_dashboard"  # distinctive: cookies are shared by every port of a host
Session = MutableMapping[str, Any]


class Sessions:
    def __init__(
        self, tokens: TokenCheck, secret: str, lifetime: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret.encode()
        self.lifetime = lifetime
        self._clock = clock
        self._revoked: dict[str, float] = {}
        self._credentials = {
            self._credential(digest): (Role(label), digest.hex()[:8])
            for label in ("viewer", "admin")
            for digest in tokens.digests(label)
        }

    def open(self, session: Session, match: TokenMatch) -> Principal:
        """A new session for the token that signed in (a fresh id and CSRF token: nothing
        of a session from before the sign-in survives)."""
        session.clear()
        session.update(
            sid=secrets.token_urlsafe(18),
            csrf=secrets.token_urlsafe(24),
            cred=self._credential(match.digest),
            exp=int(self._clock()) + self.lifetime,
        )
        return Principal(f"token-{match.fingerprint}", Role(match.label), Via.SESSION)

    def principal(self, session: Session) -> Principal | None:
        """The session's user, or None: no session, expired, revoked, or its token gone."""
        sid, cred, exp = session.get("sid"), session.get("cred"), session.get("exp")
        if not isinstance(sid, str) or not isinstance(cred, str) or not isinstance(exp, int):
            return None
        if exp <= self._clock() or sid in self._revoked:
            return None
        found = self._credentials.get(cred)
        if found is None:
            return None
        role, fingerprint = found
        return Principal(f"token-{fingerprint}", role, Via.SESSION)

    def close(self, session: Session) -> None:
        now = self._clock()
        self._revoked = {sid: until for sid, until in self._revoked.items() if until > now}
        sid, exp = session.get("sid"), session.get("exp")
        if isinstance(sid, str) and isinstance(exp, int):
            self._revoked[sid] = exp
        session.clear()

    @staticmethod
    def csrf_token(session: Session) -> str:
        """The session's CSRF token, made on first use (anonymous and proxy users get a
        session holding only this)."""
        token = session.get("csrf")
        if not isinstance(token, str):
            token = secrets.token_urlsafe(24)
            session["csrf"] = token
        return token

    def _credential(self, digest: bytes) -> str:
        return hmac.new(self._secret, b"dashboard-session:" + digest, hashlib.sha256).hexdigest()[:32]
