"""API handlers for registry load: totals, series and top lists over a time window."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from consumers.dashboard import params
from consumers.dashboard.pagination import PageRequest, page_body
from consumers.dashboard.params import MAX_BUCKETS, Window
from consumers.dashboard.queries import downtime, inventory, load, rollups
from consumers.dashboard.queries import pulls as pull_stats
from consumers.dashboard.queries import pushes as push_stats
from consumers.dashboard.queries.audit import AuditFilter, counts_by_action


def _window(request: Request) -> Window:
    return params.window(request.query_params, request.state.clock)


def _repository(request: Request) -> str | None:
    return params.text_filter(request.query_params, "repository")


def pull_filter(request: Request, span: Window, repository: str | None) -> pull_stats.PullFilter:
    """Pulls of ``span`` (one repository's or all), read from the table that answers the
    window (``rollups.grain``: minutes, or the hourly or daily rollups). A series asks
    ``params.step(query, span, wanted.grain)`` for its step."""
    retention = request.state.settings.retention
    grain = rollups.grain(span, request.state.clock(), retention)
    return pull_stats.PullFilter(span, repository, grain)


def _pulls(request: Request, span: Window) -> pull_stats.PullFilter:
    return pull_filter(request, span, _repository(request))


def _series_page(request: Request) -> PageRequest:
    query = request.query_params
    limit = params.integer(query, "limit", MAX_BUCKETS, minimum=1, maximum=MAX_BUCKETS)
    return PageRequest(limit=limit, offset=params.integer(query, "offset", 0, minimum=0))


async def summary(request: Request) -> Response:
    """
    summary: Totals in a window (the page's tiles).
    parameters:
      - $ref: '#/components/parameters/range'
      - $ref: '#/components/parameters/since'
      - $ref: '#/components/parameters/until'
      - $ref: '#/components/parameters/repository'
    responses:
      200:
        description: >
          `pulls` sums the pull counters (`requests` is every pull event, `manifest_gets`
          the image pulls, `heads` the HEAD requests); `pushes` counts every push event
          (`manifests`, `blobs`, re-pushes included) and its `bytes`; `deletes` and
          `mounts` come from the audit log; `repositories.total` is how many the inventory
          holds and `repositories.active` how many were pulled in the window. With
          `repository`, every figure is that repository's (`repositories.total` is 1, or 0
          when the inventory does not hold it).
      400:
        $ref: '#/components/responses/BadQuery'
    """
    span, repository = _window(request), _repository(request)
    wanted = _pulls(request, span)
    async with request.state.engine.connect() as conn:
        pulled = await pull_stats.totals(conn, wanted)
        pushed = await push_stats.totals(conn, span, repository)
        actions = await counts_by_action(conn, AuditFilter(window=span, repository=repository))
        total, active = (
            await inventory.repository_count(conn, repository),
            await pull_stats.active_repositories(conn, wanted),
        )
    heads = pulled["manifest_heads"] + pulled["blob_heads"]
    return JSONResponse(
        {
            "window": span.as_json(),
            "pulls": {**pulled, "heads": heads},
            "pushes": pushed,
            "deletes": actions.get("delete", 0),
            "mounts": actions.get("mount", 0),
            "repositories": {"total": total, "active": active},
        }
    )


async def load_series(request: Request) -> Response:
    """
    summary: Registry load per bucket, pulls and pushes with bytes, empty buckets included.
    parameters:
      - $ref: '#/components/parameters/range'
      - $ref: '#/components/parameters/since'
      - $ref: '#/components/parameters/until'
      - $ref: '#/components/parameters/step'
      - $ref: '#/components/parameters/repository'
      - $ref: '#/components/parameters/limit'
      - $ref: '#/components/parameters/offset'
    responses:
      200:
        description: >
          `items` holds one point per bucket, oldest first: `time` (bucket start), `pulls`
          (pull events), `image_pulls` (manifest GETs), `pushes`, `bytes_pulled`, `bytes_pushed`.
          `pipeline_down` lists the stretches of the window in which the pull or push
          consumer stored nothing because it was not running or could not reach its broker
          or the store (no heartbeat): `since`, `until` (whole minutes), `minutes` and the
          `handlers` that were down, oldest first. Their buckets read zero without meaning
          "no traffic". Nothing is claimed before a consumer's first heartbeat (store
          revision 0006) nor for the current minute. Not paginated.
      400:
        $ref: '#/components/responses/BadQuery'
    """
    span = _window(request)
    wanted = _pulls(request, span)
    step, page = params.step(request.query_params, span, wanted.grain), _series_page(request)
    async with request.state.engine.connect() as conn:
        found = await load.points(conn, wanted, step)
        down = await downtime.pipeline_down(conn, span, request.state.clock())
    rows = found[page.offset : page.offset + page.fetch]
    return JSONResponse(page_body(rows, page, window=span.as_json(), step=step, pipeline_down=down))


async def pull_series(request: Request) -> Response:
    """
    summary: Pulls over time, per minute, hour or day, for the registry or one repository.
    parameters:
      - $ref: '#/components/parameters/range'
      - $ref: '#/components/parameters/since'
      - $ref: '#/components/parameters/until'
      - $ref: '#/components/parameters/step'
      - $ref: '#/components/parameters/repository'
      - $ref: '#/components/parameters/limit'
      - $ref: '#/components/parameters/offset'
    responses:
      200:
        description: >
          One item per bucket, oldest first: `time`, `requests`, `manifest_gets`,
          `manifest_heads`, `blob_gets`, `blob_heads`, `bytes`.
      400:
        $ref: '#/components/responses/BadQuery'
    """
    span = _window(request)
    wanted = _pulls(request, span)
    step, page = params.step(request.query_params, span, wanted.grain), _series_page(request)
    async with request.state.engine.connect() as conn:
        found = await pull_stats.series(conn, wanted, step)
    zero = dict.fromkeys((*pull_stats.COUNTERS, "requests"), 0)
    starts = params.bucket_starts(span, step)[page.offset : page.offset + page.fetch]
    rows = [{"time": params.iso(start), **found.get(start, zero)} for start in starts]
    return JSONResponse(page_body(rows, page, window=span.as_json(), step=step))


async def top_images(request: Request) -> Response:
    """
    summary: The most-pulled images in a window.
    parameters:
      - $ref: '#/components/parameters/range'
      - $ref: '#/components/parameters/since'
      - $ref: '#/components/parameters/until'
      - $ref: '#/components/parameters/repository'
      - name: by
        in: query
        description: Rank repositories, or each reference (tag or digest) of them.
        schema: {type: string, enum: [repository, reference], default: repository}
      - $ref: '#/components/parameters/limit'
      - $ref: '#/components/parameters/offset'
    responses:
      200:
        description: Most image pulls (manifest GETs) first, then most pull requests.
      400:
        $ref: '#/components/responses/BadQuery'
    """
    span, page = _window(request), PageRequest.from_query(request.query_params)
    by = params.choice(request.query_params, "by", ("repository", "reference"), "repository")
    async with request.state.engine.connect() as conn:
        rows = await pull_stats.top_images(conn, _pulls(request, span), page, by_reference=by == "reference")
    return JSONResponse(page_body(rows, page, window=span.as_json()))


async def top_clients(request: Request) -> Response:
    """
    summary: The clients (actor, address, user agent) that pulled most in a window.
    parameters:
      - $ref: '#/components/parameters/range'
      - $ref: '#/components/parameters/since'
      - $ref: '#/components/parameters/until'
      - $ref: '#/components/parameters/repository'
      - $ref: '#/components/parameters/limit'
      - $ref: '#/components/parameters/offset'
    responses:
      200:
        description: Most pull requests first; an absent actor (anonymous) is null.
      400:
        $ref: '#/components/responses/BadQuery'
    """
    span, page = _window(request), PageRequest.from_query(request.query_params)
    async with request.state.engine.connect() as conn:
        rows = await pull_stats.top_clients(conn, _pulls(request, span), page)
    return JSONResponse(page_body(rows, page, window=span.as_json()))
