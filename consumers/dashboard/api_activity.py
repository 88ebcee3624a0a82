"""API handlers for events: recent activity and the audit log.

Both take an optional window: without ``range``, ``since`` or ``until`` they cover all time.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from consumers.dashboard import params
from consumers.dashboard.pagination import PageRequest, page_body
from consumers.dashboard.params import Window
from consumers.dashboard.queries import activity, audit

_FILTERS = ("action", "kind", "repository", "actor")


def _optional_window(request: Request) -> Window | None:
    query = request.query_params
    if not any(query.get(name, "").strip() for name in ("range", "since", "until")):
        return None
    return params.window(query, request.state.clock)


def _filters(request: Request) -> dict[str, str | None]:
    return {name: params.text_filter(request.query_params, name) for name in _FILTERS}


async def recent_activity(request: Request) -> Response:
    """
    summary: The latest events, newest first (pushes read from the inventory, and audited actions).
    parameters:
      - $ref: '#/components/parameters/range'
      - $ref: '#/components/parameters/since'
      - $ref: '#/components/parameters/until'
      - $ref: '#/components/parameters/repository'
      - $ref: '#/components/parameters/action'
      - $ref: '#/components/parameters/kind'
      - $ref: '#/components/parameters/actor'
      - $ref: '#/components/parameters/limit'
      - $ref: '#/components/parameters/offset'
    responses:
      200:
        description: >
          Each item: `time`, `action`, `kind`, `repository`, `tag`, `digest`, `media_type`,
          `size`, `actor`, `from_repository`. A tag's row shows its latest push only.
      400:
        $ref: '#/components/responses/BadQuery'
    """
    page = PageRequest.from_query(request.query_params)
    wanted = activity.ActivityFilter(window=_optional_window(request), **_filters(request))
    async with request.state.engine.connect() as conn:
        rows = await activity.recent(conn, wanted, page)
    return JSONResponse(page_body(rows, page))


async def audit_log(request: Request) -> Response:
    """
    summary: The audit log (deletes, mounts, unknown actions), newest first, filterable.
    parameters:
      - $ref: '#/components/parameters/range'
      - $ref: '#/components/parameters/since'
      - $ref: '#/components/parameters/until'
      - $ref: '#/components/parameters/repository'
      - $ref: '#/components/parameters/action'
      - $ref: '#/components/parameters/kind'
      - $ref: '#/components/parameters/actor'
      - $ref: '#/components/parameters/limit'
      - $ref: '#/components/parameters/offset'
    responses:
      200:
        description: >
          Each item: `time` (when it happened), `recorded_at`, `event_id`, `action`, `kind`,
          `repository`, `tag`, `digest`, `from_repository`, `actor`, `addr`, `useragent`,
          `method`, `request_id` and `raw` (the event as the registry sent it).
      400:
        $ref: '#/components/responses/BadQuery'
    """
    page = PageRequest.from_query(request.query_params)
    wanted = audit.AuditFilter(window=_optional_window(request), **_filters(request))
    async with request.state.engine.connect() as conn:
        rows = await audit.entries(conn, wanted, page)
    return JSONResponse(page_body(rows, page))
