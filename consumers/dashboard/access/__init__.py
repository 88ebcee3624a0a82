"""Access control for the dashboard and its API (``docs/security.md``, "The dashboard").

Who a request is comes from a bearer token, a trusted proxy's user header, or the
session cookie of a token sign-in (:mod:`.credentials`); every route of the app is
guarded (:mod:`.guard`): reads need ``viewer``, anything else ``admin``, unless the
route list declares it :func:`public`, :func:`viewer` or :func:`admin`. State-changing
requests pass the CSRF checks (:mod:`.csrf`). An admin action is recorded with
:func:`record_admin_action` before it is done.
"""

from consumers.dashboard.access.audit import NotAnAdmin, record_admin_action
from consumers.dashboard.access.control import Access
from consumers.dashboard.access.guard import admin, public, required_role, viewer
from consumers.dashboard.access.roles import Principal, Role, Via
from consumers.dashboard.access.sessions import COOKIE
from consumers.dashboard.access.settings import AccessSettings, ProxySettings, is_loopback

__all__ = [
    "COOKIE",
    "Access",
    "AccessSettings",
    "NotAnAdmin",
    "Principal",
    "ProxySettings",
    "Role",
    "Via",
    "admin",
    "is_loopback",
    "public",
    "record_admin_action",
    "required_role",
    "viewer",
]
