"""``GET /api/v1/sources``: per kind of registry, what its events can tell, and how many
repositories of the store came from it, so a client shows pull statistics only where they
exist. The facts are the wire contract's (``common.contract.SOURCES``)."""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from common.contract import DISTRIBUTION, FIELDS, SOURCES
from consumers.store.tables import repositories


async def sources(request: Request) -> Response:
    """
    summary: Every kind of registry the bridge takes, what its events report, and its repositories.
    responses:
      200:
        description: >
          `items`, one per kind, distribution first: `kind`, `name`, `actions` (the image
          actions it reports: push, pull, delete, mount), `pulls` (whether it reports pulls at
          all), `fields` (each of digest, tag, media_type, size, actor, timestamp, id: true
          where its events carry it; timestamp and id are the sender's own), `artifact_deletes`
          (a delete naming a tag removes the whole artifact), `registry_api` (it serves the
          distribution /v2/ API that reconcile reads) and `repositories` (how many of the
          store's repositories last heard from it).
    """
    source = func.coalesce(repositories.c.source, DISTRIBUTION)
    query = select(source, func.count()).group_by(source)
    async with request.state.engine.connect() as conn:
        counts = {str(kind): int(n) for kind, n in (await conn.execute(query)).all()}
    items = [
        {
            "kind": facts.kind,
            "name": facts.name,
            "actions": list(facts.actions),
            "pulls": facts.pulls,
            "fields": {name: name in facts.fields for name in FIELDS},
            "artifact_deletes": facts.artifact_deletes,
            "registry_api": facts.registry_api,
            "repositories": counts.get(facts.kind, 0),
        }
        for facts in SOURCES.values()
    ]
    return JSONResponse({"items": items})
