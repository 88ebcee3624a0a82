"""What every sender module works with: the request as received, the credentials it is
checked against, and what normalising it gave.

A sender module (``harbor.py``, ``zot.py``, …) defines one :class:`Source`:

* ``authenticate(request, credentials)`` returns None when the request is the sender's,
  else the reason (answered 401, counted per kind);
* ``normalise(request)`` returns :class:`Normalised`: distribution-shaped event objects,
  or a reason to ignore the delivery (understood, not an image event: answered 200), or a
  handshake reply; it raises :class:`Unusable` for a payload it cannot normalise
  (quarantined to ``<prefix>.invalid``, answered 202);
* ``handshake(request)``, when the sender validates its endpoint before it signs anything
  (Event Grid): a reply given before authentication, or None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridge.sources.pushtoken import PushTokenVerifier

HttpHeaders = list[tuple[bytes, bytes]]


class Unusable(Exception):
    """The payload cannot be normalised; the message says why (it is quarantined)."""


@dataclass(frozen=True, slots=True)
class SourceRequest:
    """One request to ``/sources/<kind>/events``: header names lower-cased, the exact body."""

    kind: str
    method: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime
    url_secret: str | None = None
    id_window: int = 300
    """Seconds: ids synthesised from content alone include the window of the receive time."""

    def header(self, name: str) -> str | None:
        """The header (``name`` in lower case), None when absent or blank."""
        value = self.headers.get(name)
        return value.strip() if value and value.strip() else None

    @property
    def window(self) -> int:
        """The receive time's window number (see ``REGBRIDGE_SOURCE_ID_WINDOW_SECONDS``)."""
        return int(self.received_at.timestamp()) // max(self.id_window, 1)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What one enabled kind is checked against (from :class:`SourceSettings`)."""

    secrets: tuple[str, ...] = field(default=(), repr=False)
    """The secret, then the previous one while a rotation is under way."""
    header: str = "authorization"
    max_age: float = 0.0
    verifier: PushTokenVerifier | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer given as is (a handshake); nothing is published."""

    status: int
    body: bytes = b""
    headers: HttpHeaders = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Normalised:
    """Events to publish, or why the delivery is ignored, or a handshake reply."""

    events: list[dict[str, Any]] = field(default_factory=list)
    ignored: str | None = None
    reply: Reply | None = None


def ignore(reason: str) -> Normalised:
    return Normalised(ignored=reason)


Authenticate = Callable[[SourceRequest, Credentials], "str | None"]
Normalise = Callable[[SourceRequest], Normalised]
Handshake = Callable[[SourceRequest], "Reply | None"]


@dataclass(frozen=True, slots=True)
class Source:
    """One kind of sender."""

    kind: str
    authenticate: Authenticate
    normalise: Normalise
    handshake: Handshake | None = None
    url_secret: bool = False
    """It can sign nothing: it authenticates by ``/sources/<kind>/events/<secret>``."""
