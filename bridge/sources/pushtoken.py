"""Pub/Sub push tokens: the Google-signed OIDC JWT in ``Authorization: Bearer``, verified
with PyJWT against a JWKS file, the configured audience and service-account emails.

Google rotates its signing keys (https://www.googleapis.com/oauth2/v3/certs) every few
days, so the file is re-read whenever it changes on disk (and when a token names a key id
it does not hold): refresh it from a cron job or a sidecar. A file that stops parsing keeps
the last good keys and logs a warning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt

from common.tokens import bearer_token

log = logging.getLogger("bridge.sources.pushtoken")

ISSUERS = ("https://accounts.google.com", "accounts.google.com")
ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 30  # clock skew allowed on exp, iat and nbf


class JwksError(ValueError):
    """The JWKS file cannot be read or holds no usable key."""


def read_jwks(path: Path) -> dict[str, jwt.PyJWK]:
    """Key id → key of a JWKS file; raises :class:`JwksError`."""
    try:
        keys = jwt.PyJWKSet.from_json(path.read_text(encoding="utf-8")).keys
    except (OSError, UnicodeDecodeError, ValueError, jwt.PyJWTError) as exc:
        raise JwksError(f"{path}: {exc}") from None
    found = {key.key_id: key for key in keys if key.key_id}
    if not found:
        raise JwksError(f"{path}: no key with a key id (kid)")
    return found


class PushTokenVerifier:
    """``check(authorization)``: None for a valid token, else the reason."""

    def __init__(self, jwks_file: Path, audience: str, emails: tuple[str, ...]) -> None:
        self.jwks_file, self.audience, self.emails = jwks_file, audience, frozenset(emails)
        self._keys: Mapping[str, jwt.PyJWK] = {}
        self._stamp: tuple[int, int] | None = None
        self._refresh()

    def check(self, authorization: str | None) -> str | None:
        token = bearer_token(authorization)
        if token is None:
            return "missing bearer token"
        try:
            header = jwt.get_unverified_header(token)
            key = self._key(header.get("kid"))
            if key is None:
                return "token signed with a key not in the JWKS file"
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=ISSUERS,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            return "token expired (an old token replayed?)"
        except jwt.PyJWTError as exc:
            return f"invalid token: {exc}"
        return self._who(claims)

    def _who(self, claims: Mapping[str, Any]) -> str | None:
        if claims.get("email_verified") is not True:
            return "token email is not verified"
        if claims.get("email") not in self.emails:
            return "token email is not an allowed service account"
        return None

    def _key(self, kid: Any) -> jwt.PyJWK | None:
        self._refresh()
        if isinstance(kid, str):
            return self._keys.get(kid)
        return None

    def _refresh(self) -> None:
        """Re-read the file when its size or modification time changed."""
        try:
            status = os.stat(self.jwks_file)
        except OSError as exc:
            if not self._keys:
                raise JwksError(f"{self.jwks_file}: {exc.strerror}") from None
            return
        stamp = (status.st_mtime_ns, status.st_size)
        if stamp == self._stamp:
            return
        try:
            self._keys = read_jwks(self.jwks_file)
        except JwksError as exc:
            if not self._keys:
                raise
            log.warning("JWKS file not reloaded", extra={"fields": {"error": str(exc)}})
        self._stamp = stamp
