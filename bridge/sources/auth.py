"""How senders prove who they are, each compared in constant time
(:func:`common.tokens.same_secret`, ``hmac.compare_digest`` underneath).

Every check returns None when the request is authentic, else the reason (answered 401).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from bridge.sources.model import Credentials, SourceRequest
from common.tokens import bearer_token, same_secret

MISSING = "missing credentials"
WRONG = "wrong credentials"
WRONG_SIGNATURE = "wrong signature"


def basic_credentials(authorization: str | None) -> str | None:
    """``user:password`` of an ``Authorization: Basic`` value, else None."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        return base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def known(presented: str | bytes | None, credentials: Credentials) -> bool:
    """``presented`` is one of the secrets (each compared, whatever matched first)."""
    matched = False
    for secret in credentials.secrets:
        matched |= same_secret(presented, secret)
    return matched


def signed_by(presented: str | None, credentials: Credentials, body: bytes, algorithm: str) -> bool:
    """``presented`` is the hex HMAC of ``body`` under one of the secrets."""
    matched = False
    for secret in credentials.secrets:
        matched |= signed(presented, secret, body, algorithm)
    return matched


def static_header(request: SourceRequest, credentials: Credentials) -> str | None:
    """The configured header (``Authorization`` unless set) carries exactly the secret."""
    presented = request.header(credentials.header)
    if presented is None:
        return MISSING
    return None if known(presented, credentials) else WRONG


def basic_or_bearer(request: SourceRequest, credentials: Credentials) -> str | None:
    """``Authorization: Basic`` whose ``user:password`` is the secret, or ``Bearer <secret>``."""
    authorization = request.header("authorization")
    if authorization is None:
        return MISSING
    presented = basic_credentials(authorization) or bearer_token(authorization)
    return None if known(presented, credentials) else WRONG


def url_secret(request: SourceRequest, credentials: Credentials) -> str | None:
    """The last path segment of ``/sources/<kind>/events/<secret>`` is the secret."""
    if request.url_secret is None:
        return "missing secret in the URL (/sources/<kind>/events/<secret>)"
    return None if known(request.url_secret, credentials) else WRONG


def hmac_hex(secret: str, body: bytes, algorithm: str) -> str:
    return hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()


def signed(presented: str | None, secret: str, body: bytes, algorithm: str) -> bool:
    """``presented`` is the lower-case hex HMAC of ``body`` (case-insensitive compare)."""
    if not presented:
        return False
    expected = hmac_hex(secret, body, algorithm)
    return hmac.compare_digest(presented.strip().lower().encode(), expected.encode())
