"""API handlers for what the event stream may have missed: registry restarts (gaps), the
reconcile passes that repair the inventory, and what each repaired (``docs/reconcile.md``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from consumers.dashboard import params
from consumers.dashboard.pagination import PageRequest, page_body
from consumers.dashboard.queries import gaps
from consumers.dashboard.queries import reconcile as passes
from consumers.store.pass_rows import STATUSES

RECENT_REPAIRS = 50


async def reconcile_status(request: Request) -> Response:
    """
    summary: The last reconcile pass, the one running, and what the last one repaired.
    responses:
      200:
        description: >
          `last_pass` (the newest that ended, or null) and `running` (a pass under way, or
          null), each with `id`, `trigger`, `status` (ok, failed, interrupted), `started_at`,
          `finished_at`, `repositories`, `tags`, `manifests_fetched`, `requests`, `repairs`
          (published, per kind), `repairs_total`, `errors` (per kind) and `error`;
          `repairs`: up to 50 repairs the consumers applied for `last_pass` (`time`, `kind`,
          `repository`, `tag`, `digest`, `previous_digest`); `pulls_note`.
    """
    first = PageRequest(limit=RECENT_REPAIRS)
    async with request.state.engine.connect() as conn:
        last = await passes.latest(conn, finished=True)
        running = await passes.latest(conn, finished=False)
        repaired = await passes.repairs(conn, last["id"], first) if last else []
    body = {
        "last_pass": last,
        "running": running,
        "repairs": repaired[:RECENT_REPAIRS],
        "pulls_note": gaps.PULLS_NOTE,
    }
    return JSONResponse(body)


async def reconcile_passes(request: Request) -> Response:
    """
    summary: Reconcile passes, newest first.
    parameters:
      - name: status
        in: query
        description: Only passes with this status.
        schema: {type: string, enum: [running, ok, failed, interrupted]}
      - $ref: '#/components/parameters/limit'
      - $ref: '#/components/parameters/offset'
    responses:
      200:
        description: A page of passes (the fields of `last_pass` in `/reconcile`).
      400:
        $ref: '#/components/responses/BadQuery'
    """
    page = PageRequest.from_query(request.query_params)
    status = params.text_filter(request.query_params, "status")
    if status is not None and status not in STATUSES:
        raise params.BadQuery(f"status must be one of {', '.join(STATUSES)}")
    async with request.state.engine.connect() as conn:
        rows = await passes.passes(conn, page, status)
    return JSONResponse(page_body(rows, page))


async def reconcile_repairs(request: Request) -> Response:
    """
    summary: The repairs the consumers applied for one pass, in order.
    parameters:
      - name: id
        in: path
        required: true
        description: The pass id.
        schema: {type: string}
      - $ref: '#/components/parameters/limit'
      - $ref: '#/components/parameters/offset'
    responses:
      200:
        description: A page of repairs (`time`, `kind`, `repository`, `tag`, `digest`, `previous_digest`).
    """
    page = PageRequest.from_query(request.query_params)
    async with request.state.engine.connect() as conn:
        rows = await passes.repairs(conn, request.path_params["id"], page)
    return JSONResponse(page_body(rows, page, **{"pass": request.path_params["id"]}))


async def event_gaps(request: Request) -> Response:
    """
    summary: Registry restarts seen in the events (a new source.instanceID for an address), newest first.
    parameters:
      - $ref: '#/components/parameters/limit'
    responses:
      200:
        description: >
          `items`: each restart with `addr`, `instance_id`, `previous_instance_id`, `time` (the
          first event of the new instance), `previous_last_event_at`, `note` ("events pending at
          that moment may be lost") and `reconciled_by` (the first reconcile pass that ended well
          after it, or null); `instances`: registry instances ever seen; `pulls_note`.
      400:
        $ref: '#/components/responses/BadQuery'
    """
    limit = PageRequest.from_query(request.query_params).limit
    async with request.state.engine.connect() as conn:
        found = await gaps.restarts(conn, limit)
        seen = await gaps.instances(conn)
    return JSONResponse({"items": found, "instances": seen, "pulls_note": gaps.PULLS_NOTE})
