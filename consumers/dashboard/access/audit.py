"""The one way an admin action is written to the audit log, with the user who did it.

Every endpoint that changes state calls :func:`record_admin_action` **before** it acts: the
row goes to the store's ``audit_log`` (the trail the dashboard shows, next to the
registry's own deletes and mounts) in its own transaction, and one log line goes to
stdout. If the store cannot take the row, it raises (the app answers 503) and the action
must not run: an admin action is never done unrecorded. The dashboard's database user
therefore needs INSERT on ``audit_log`` once admin actions exist.

Rows are told apart from the registry's events by their action, ``dashboard.<action>``
(e.g. ``dashboard.cleanup.apply``), and their ``raw`` column:
``{"source": "dashboard", "user", "role", "via", "details"}``, plus ``forwarded_for`` (the
proxy's ``X-Forwarded-For``) for a user who came through the trusted proxy, whose own
address is then the proxy's.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from consumers.dashboard.access.roles import Principal, Role, Via
from consumers.store.tables import audit_log

log = logging.getLogger("consumers.dashboard.audit")


class NotAnAdmin(Exception):
    """:func:`record_admin_action` was called for a request without the admin role (a
    route whose declared role is wrong, a bug): nothing is written, nothing may be done,
    and the request fails (500). Not an ``OSError``/``PermissionError``: the app maps
    those to 503 (the store did not answer)."""


async def record_admin_action(
    request: Request,
    action: str,
    *,
    repository: str = "",
    tag: str | None = None,
    digest: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> str:
    """Write one audit row for ``action`` by the request's user; returns its event id."""
    user = request.user
    if not isinstance(user, Principal) or not user.may(Role.ADMIN):
        raise NotAnAdmin(f"dashboard.{action} needs the admin role")
    assert user.role is not None
    event_id = f"dashboard-{uuid.uuid4()}"
    now = datetime.now(UTC).replace(tzinfo=None)
    raw: dict[str, Any] = {
        "source": "dashboard",
        "user": user.name,
        "role": user.role.value,
        "via": user.via.value,
        "details": dict(details or {}),
    }
    if user.via is Via.PROXY and "x-forwarded-for" in request.headers:
        raw["forwarded_for"] = request.headers["x-forwarded-for"][:300]
    row = {
        "event_id": event_id,
        "occurred_at": now,
        "recorded_at": now,
        "action": f"dashboard.{action}",
        "kind": "other",
        "repository": repository,
        "tag": tag,
        "digest": digest,
        "actor": user.name,
        "addr": request.client.host if request.client else None,
        "useragent": request.headers.get("user-agent"),
        "method": request.method,
        "raw": raw,
    }
    async with request.state.engine.begin() as conn:
        await conn.execute(audit_log.insert().values(**row))
    fields = {"action": row["action"], "user": user.name, "role": user.role.value, "repository": repository}
    log.info("admin action", extra={"fields": {**fields, "event_id": event_id}})
    return event_id
