"""HMAC-SHA256 signatures on relayed webhooks, covering a timestamp (the Stripe scheme).

The relay sends ``X-Registry-Signature: t=<unix seconds>,v1=<hex>`` where
``<hex> = HMAC-SHA256(secret, "<t>." + body)``. A receiver recomputes the HMAC over the raw
body bytes it received, compares in constant time, and rejects a ``t`` older than its
tolerance (5 minutes by default), which bounds replays. A header may carry several ``v1``
entries (e.g. while a secret is rotated); any one that matches is enough.

Recipe for a receiver (Python, standard library only)::

    import hashlib, hmac, time

    def verified(secret: bytes, header: str, body: bytes, tolerance: int = 300) -> bool:
        parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
        stamps = [v for k, v in parts if k == "t"]
        if len(stamps) != 1 or not stamps[0].isdigit() or abs(time.time() - int(stamps[0])) > tolerance:
            return False
        expected = hmac.new(secret, stamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
        return any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")

The shell (openssl) version is in ``docs/relay.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Registry-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300


class InvalidSignature(ValueError):
    """A signature header is missing, malformed, too old, or does not match the body."""


def signature_hex(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """``HMAC-SHA256(secret, "<timestamp>." + body)`` in lower-case hex."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Registry-Signature`` value for ``body`` at ``timestamp`` (now by default)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return f"t={stamp},{SCHEME}={signature_hex(secret, stamp, body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    stamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            stamps.append(value)
        elif key == SCHEME:
            signatures.append(value)
    if len(stamps) != 1 or not stamps[0].isdigit():
        raise InvalidSignature("the header needs exactly one numeric t=")
    if not signatures:
        raise InvalidSignature(f"the header has no {SCHEME}= signature")
    return int(stamps[0]), signatures


def verify(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check ``header`` against the raw ``body``; returns the signed timestamp.

    Raises :class:`InvalidSignature` when the header is absent or malformed, when its
    timestamp is more than ``tolerance`` seconds from ``now``, or when no signature matches.
    """
    if not header:
        raise InvalidSignature(f"no {SIGNATURE_HEADER} header")
    stamp, signatures = _parse(header)
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance:
        raise InvalidSignature(f"timestamp {stamp} is outside the {tolerance} s tolerance")
    expected = signature_hex(secret, stamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise InvalidSignature("no signature matches the body")
    return stamp
