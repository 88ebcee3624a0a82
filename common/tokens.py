"""Bearer-token check for ``POST /events``, in constant time against every token, and
:func:`same_secret`, the one constant-time comparison of any other presented secret.

``REGBRIDGE_AUTH_TOKENS`` holds several tokens so that they can rotate: add the new one,
switch the registry over, then drop the old one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


class TokenCheck:
    """Accepts ``Authorization: Bearer <token>`` for any configured token.

    With no tokens (only allowed with ``REGBRIDGE_ALLOW_ANONYMOUS=true``) every request
    passes. Every configured token is compared, so the time taken does not say which
    token, or how much of one, matched. Both sides are compared as SHA-256 digests, so it
    does not say how long a token is either (``compare_digest`` returns early on a length
    difference). Only the digests are kept.
    """

    def __init__(self, tokens: Iterable[str]) -> None:
        self._tokens = tuple(_digest(t.encode()) for t in tokens if t)

    @property
    def anonymous(self) -> bool:
        return not self._tokens

    def allows(self, authorization: str | None) -> bool:
        if not self._tokens:
            return True
        presented = bearer_token(authorization)
        if presented is None:
            return False
        digest = _digest(presented)
        matched = False
        for token in self._tokens:
            matched |= hmac.compare_digest(digest, token)
        return matched


def _digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


def same_secret(presented: str | bytes | None, expected: str | bytes) -> bool:
    """Whether ``presented`` equals ``expected``, in constant time and without telling the
    length (both are compared as SHA-256 digests). None or empty never matches."""
    if not presented or not expected:
        return False
    given = presented.encode() if isinstance(presented, str) else presented
    wanted = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(_digest(given), _digest(wanted))


def bearer_token(authorization: str | None) -> bytes | None:
    """The token of a ``Bearer`` header (scheme case-insensitive), else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip().encode()
