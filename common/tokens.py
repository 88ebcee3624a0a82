"""Bearer-token checks in constant time against every token: ``POST /events`` on the bridge
(``REGBRIDGE_AUTH_TOKENS``) and the dashboard's API (its viewer and admin tokens); and
:func:`same_secret`, the one constant-time comparison of any other presented secret (the
other registries' senders).

Several tokens are accepted at once so that they can rotate: add the new one, switch the
clients over, then drop the old one. A token may carry a label (the dashboard labels its
tokens with their role); :meth:`TokenCheck.identify` says which label matched.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TokenMatch:
    """The configured token a presented one equals: its label and its fingerprint (the
    first 8 hex digits of its SHA-256, ``printf %s TOKEN | sha256sum | cut -c1-8``), which
    names it in logs without revealing it. ``digest`` is the token's full SHA-256."""

    label: str
    fingerprint: str
    digest: bytes = field(repr=False)


class TokenCheck:
    """Accepts ``Authorization: Bearer <token>`` for any configured token.

    With no tokens (only allowed with ``REGBRIDGE_ALLOW_ANONYMOUS=true``) every request
    passes :meth:`allows`. Every configured token is compared, so the time taken does not
    say which token, or how much of one, matched. Both sides are compared as SHA-256
    digests, so it does not say how long a token is either (``compare_digest`` returns
    early on a length difference). Only the digests are kept.
    """

    def __init__(self, tokens: Iterable[str], *, label: str = "") -> None:
        self._tokens = tuple((_digest(t.encode()), label) for t in tokens if t)

    @classmethod
    def labelled(cls, tokens: Mapping[str, Iterable[str]]) -> TokenCheck:
        """One check over several labelled lists (``{"admin": [...], "viewer": [...]}``)."""
        check = cls(())
        check._tokens = tuple((_digest(t.encode()), label) for label, ts in tokens.items() for t in ts if t)
        return check

    @property
    def anonymous(self) -> bool:
        return not self._tokens

    def digests(self, label: str) -> tuple[bytes, ...]:
        """The SHA-256 digests of the tokens with this label."""
        return tuple(digest for digest, own in self._tokens if own == label)

    def allows(self, authorization: str | None) -> bool:
        if not self._tokens:
            return True
        presented = bearer_token(authorization)
        return presented is not None and self.identify(presented) is not None

    def identify(self, presented: bytes) -> TokenMatch | None:
        """The configured token equal to ``presented``, comparing against every one."""
        digest = _digest(presented)
        found: tuple[bytes, str] | None = None
        for token in self._tokens:
            if hmac.compare_digest(digest, token[0]):
                found = token
        if found is None:
            return None
        return TokenMatch(found[1], found[0].hex()[:8], found[0])


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
