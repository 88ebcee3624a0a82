"""API handlers for the lifecycle (``docs/lifecycle.md``): one repository's tags and manifests
with their push and pull facts, its storage and its load over time; the manifests nobody
pulled lately; storage per repository. The facts and figures come from
:mod:`consumers.lifecycle` (the same queries the retention plan reads); the handlers only
parse, page and answer. The cleanup's preview and apply are in :mod:`.api_cleanup`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from consumers import lifecycle
from consumers.dashboard import api_load, params
from consumers.dashboard.lifecycle_json import jsonable
from consumers.dashboard.pagination import PageRequest, page_body
from consumers.dashboard.params import as_utc, iso
from consumers.dashboard.queries import downtime, inventory, load

DEFAULT_STALE_DAYS = 90
MAX_STALE_DAYS = 36500
SERIES_RANGE = "30d"


def _page(rows: list[Any], page: PageRequest) -> dict[str, Any]:
    return page_body([jsonable(row) for row in rows[page.offset : page.offset + page.fetch]], page)


async def repository_lifecycle(request: Request) -> Response:
    """
    summary: One repository's tags and manifests with their push and pull facts, its storage and load.
    parameters:
      - $ref: '#/components/parameters/name'
      - name: range
        in: query
        description: The series' window back from `until`; default 30d.
        schema: {type: string, pattern: '^[0-9]+[mhd]$', default: 30d}
      - $ref: '#/components/parameters/since'
      - $ref: '#/components/parameters/until'
      - $ref: '#/components/parameters/step'
      - $ref: '#/components/parameters/limit'
      - $ref: '#/components/parameters/offset'
    responses:
      200:
        description: >
          `tags`: a page of its live tags, latest push first, each with `tag`, `digest`,
          `first_pushed_at`, `last_pushed_at` (when it last moved), `pushed_by`,
          `last_pulled_at` (manifest GET or HEAD, whichever is later; user agents excluded
          by `REGBRIDGE_LIFECYCLE_IGNORE_USERAGENTS` do not count), `last_get_at`,
          `last_head_at` and `pulls_7d`, `pulls_30d`, `pulls_90d` (`gets`, `heads`,
          `total`). `manifests`: a page of its live manifests, latest push first, with
          `digest`, `media_type`, `kind`, `tags` (empty: untagged), `parents` (the indexes
          or subjects that hold it), `size`, the push and pull times; `untagged`: how many
          have no tag. `limit` and `offset` page both lists. `storage`: its live bytes
          (unique blobs and manifests of its live manifests). `series`: pushes and pulls
          per bucket, as `/load` answers them (`window`, `step`, `items`, `pipeline_down`).
      400:
        $ref: '#/components/responses/BadQuery'
      404:
        description: No such repository.
    """
    name, query = request.path_params["name"], request.query_params
    page = PageRequest.from_query(query)
    span = params.window(query, request.state.clock, SERIES_RANGE)
    wanted = api_load.pull_filter(request, span, name)  # long windows read the rollups
    step, now = params.step(query, span, wanted.grain), as_utc(request.state.clock())
    async with request.state.engine.connect() as conn:
        if not await inventory.repository_exists(conn, name):
            raise HTTPException(404, f"no repository {name!r}")
        tags = await lifecycle.tag_facts(conn, name, now)
        contents = await lifecycle.load_contents(conn, name, with_blobs=True)  # once, for both
        manifests = await lifecycle.manifest_facts(conn, name, contents=contents)
        held = await lifecycle.repository_storage(conn, name, contents=contents)
        points = await load.points(conn, wanted, step)
        down = await downtime.pipeline_down(conn, span, now)
    tags.sort(key=lambda t: (-t.last_pushed_at.timestamp(), t.tag))
    manifests.sort(key=lambda m: (-m.last_pushed_at.timestamp(), m.digest))
    series = {"window": span.as_json(), "step": step, "items": points, "pipeline_down": down}
    body = {
        "repository": name,
        "now": iso(now),
        "tags": _page(tags, page),
        "manifests": _page(manifests, page),
        "untagged": sum(1 for m in manifests if not m.tags),
        "storage": jsonable(held),
        "series": series,
    }
    return JSONResponse(body)


async def stale_images(request: Request) -> Response:
    """
    summary: Manifests not pulled in the last N days (or never), largest first.
    parameters:
      - name: days
        in: query
        description: Not pulled (manifest GET or HEAD) within this many days before now.
        schema: {type: integer, minimum: 1, maximum: 36500, default: 90}
      - $ref: '#/components/parameters/limit'
      - $ref: '#/components/parameters/offset'
    responses:
      200:
        description: >
          `days`, `not_pulled_since` (now minus `days`) and a page of manifests (the fields
          of `manifests` in `/repositories/{name}/lifecycle`, with `repository`), largest
          `size` first; `last_pulled_at` is null for a manifest never pulled.
      400:
        $ref: '#/components/responses/BadQuery'
    """
    query = request.query_params
    days = params.integer(query, "days", DEFAULT_STALE_DAYS, minimum=1, maximum=MAX_STALE_DAYS)
    page, now = PageRequest.from_query(query), as_utc(request.state.clock())
    async with request.state.engine.connect() as conn:
        rows = await lifecycle.stale_manifests(conn, days=days, now=now, limit=page.fetch, offset=page.offset)
    items = [jsonable(row) for row in rows]
    since = iso(now - timedelta(days=days))
    return JSONResponse(page_body(items, page, days=days, not_pulled_since=since))


async def storage_overview(request: Request) -> Response:
    """
    summary: Storage per repository, the registry's total (shared blobs counted once) and its growth.
    parameters:
      - $ref: '#/components/parameters/limit'
      - $ref: '#/components/parameters/offset'
    responses:
      200:
        description: >
          From the latest daily snapshot (the reconcile writes one after each pass; `as_of`
          is when, null before the first). `items`: a page of repositories, most bytes
          first, each with `repository`, `bytes` (unique blobs and manifests of its live
          manifests), `manifests`, `blobs` and `growth_per_day` (bytes a day since its
          oldest snapshot of the last 30 days; null with one snapshot); `total`: the same
          for the registry, every blob counted once however many repositories share it;
          `repository_count`; `history`: the total per day (`day`, `bytes`), oldest first.
      400:
        $ref: '#/components/responses/BadQuery'
    """
    page = PageRequest.from_query(request.query_params)
    async with request.state.engine.connect() as conn:
        overview = await lifecycle.storage_overview(conn, limit=page.fetch, offset=page.offset)
    body = jsonable(overview)
    rows = body.pop("repositories")
    return JSONResponse(page_body(rows, page, **body))
