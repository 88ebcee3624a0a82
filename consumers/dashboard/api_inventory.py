"""API handlers for the inventory: repositories, one repository, its tags and manifests.

Repository names contain slashes (``team/hello``), so the name is the rest of the path;
``…/tags`` and ``…/manifests`` are matched first, as in the registry's own API.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from consumers.dashboard import params
from consumers.dashboard.pagination import PageRequest, page_body
from consumers.dashboard.queries import inventory


def _include_deleted(request: Request) -> bool:
    return params.choice(request.query_params, "include_deleted", ("false", "true"), "false") == "true"


async def repositories(request: Request) -> Response:
    """
    summary: Every repository, with tag count, size, last push and pulls in the last 24 h.
    parameters:
      - name: sort
        in: query
        description: name (A→Z), last_push, size or pulls (image pulls in 24 h), largest first.
        schema: {type: string, enum: [name, last_push, size, pulls], default: name}
      - $ref: '#/components/parameters/repository'
      - $ref: '#/components/parameters/limit'
      - $ref: '#/components/parameters/offset'
    responses:
      200:
        description: >
          Each item: `name`, `tags` and `manifests` (live), `blobs`, `size` (bytes of live
          blobs and manifests), `last_pushed_at`, `last_pushed_by`, `image_pulls_24h`,
          `pull_requests_24h`, `first_seen_at`, `last_event_at`, `source` (the kind of
          registry its latest event came from) and `pulls_reported` (false where that kind
          reports no pulls: its pull counts are unknown, not zero). With `repository`, only
          that repository (an empty list when the inventory does not hold it).
      400:
        $ref: '#/components/responses/BadQuery'
    """
    page = PageRequest.from_query(request.query_params)
    sort = params.choice(request.query_params, "sort", inventory.SORTS, "name")
    name = params.text_filter(request.query_params, "repository")
    async with request.state.engine.connect() as conn:
        rows = await inventory.list_repositories(conn, request.state.clock(), page, sort, name)
    return JSONResponse(page_body(rows, page))


async def repository(request: Request) -> Response:
    """
    summary: One repository's summary (as in the list).
    parameters:
      - $ref: '#/components/parameters/name'
    responses:
      200:
        description: The repository.
      404:
        description: No such repository.
    """
    name = request.path_params["name"]
    async with request.state.engine.connect() as conn:
        row = await inventory.repository(conn, name, request.state.clock())
    if row is None:
        raise HTTPException(404, f"no repository {name!r}")
    return JSONResponse(row)


async def _require(conn: AsyncConnection, name: str) -> None:
    """404 unless the repository is in the inventory."""
    if not await inventory.repository_exists(conn, name):
        raise HTTPException(404, f"no repository {name!r}")


async def repository_tags(request: Request) -> Response:
    """
    summary: A repository's tags, A→Z, with the digest, media type and size each points at.
    parameters:
      - $ref: '#/components/parameters/name'
      - name: include_deleted
        in: query
        schema: {type: boolean, default: false}
      - $ref: '#/components/parameters/limit'
      - $ref: '#/components/parameters/offset'
    responses:
      200:
        description: A page of tags.
      404:
        description: No such repository.
    """
    name, page = request.path_params["name"], PageRequest.from_query(request.query_params)
    deleted = _include_deleted(request)
    async with request.state.engine.connect() as conn:
        await _require(conn, name)
        rows = await inventory.repository_tags(conn, name, page, deleted)
    return JSONResponse(page_body(rows, page, repository=name))


async def repository_manifests(request: Request) -> Response:
    """
    summary: A repository's manifests (images, indexes), latest push first, with their live tags.
    parameters:
      - $ref: '#/components/parameters/name'
      - name: include_deleted
        in: query
        schema: {type: boolean, default: false}
      - $ref: '#/components/parameters/limit'
      - $ref: '#/components/parameters/offset'
    responses:
      200:
        description: A page of manifests.
      404:
        description: No such repository.
    """
    name, page = request.path_params["name"], PageRequest.from_query(request.query_params)
    deleted = _include_deleted(request)
    async with request.state.engine.connect() as conn:
        await _require(conn, name)
        rows = await inventory.repository_manifests(conn, name, page, deleted)
    return JSONResponse(page_body(rows, page, repository=name))
