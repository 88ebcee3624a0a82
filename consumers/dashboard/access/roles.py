"""Who a request is (:class:`Principal`) and what it may do (:class:`Role`).

Two roles: ``viewer`` reads everything; ``admin`` may also change state (the cleanup,
and anything else that writes). An admin is a viewer too. Starlette's
``AuthenticationMiddleware`` puts the principal in ``request.user`` and its roles in
``request.auth.scopes``.
"""

from __future__ import annotations

import enum

from starlette.authentication import BaseUser


class Role(enum.Enum):
    VIEWER = "viewer"
    ADMIN = "admin"

    @property
    def scopes(self) -> list[str]:
        """The roles this one includes (``request.auth.scopes``)."""
        return ["viewer", "admin"] if self is Role.ADMIN else ["viewer"]

    def includes(self, other: Role) -> bool:
        return other.value in self.scopes


class Via(enum.Enum):
    """How the principal was established."""

    TOKEN = "token"  # noqa: S105 (Authorization: Bearer, on this request)
    SESSION = "session"  # the signed session cookie of a token sign-in
    PROXY = "proxy"  # the trusted reverse proxy's user header
    ANONYMOUS = "anonymous"  # no authentication configured (loopback, or allowed explicitly)


class Principal(BaseUser):
    """An authenticated user. ``role`` is None for a proxy user the configured lists give
    no role: authenticated, but refused everything except the public pages (403)."""

    def __init__(self, name: str, role: Role | None, via: Via) -> None:
        self.name, self.role, self.via = name, role, via

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def identity(self) -> str:
        return self.name

    def may(self, role: Role) -> bool:
        return self.role is not None and self.role.includes(role)

    def __repr__(self) -> str:
        role = self.role.value if self.role else None
        return f"Principal({self.name!r}, {role}, {self.via.value})"
