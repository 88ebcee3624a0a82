"""The JSON API's routes. Handlers parse the query, run one query module and answer
JSON; each handler's docstring is its OpenAPI operation (YAML). A route needs viewer to
read and admin for any other method unless the list declares it otherwise: the cleanup's
preview is a POST that only reads (viewer), its apply deletes (admin)."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from consumers.dashboard import (
    api_activity,
    api_cleanup,
    api_inventory,
    api_lifecycle,
    api_load,
    api_reconcile,
    api_sources,
)
from consumers.dashboard.access import admin, viewer
from consumers.dashboard.queries import changes as store_changes
from consumers.store.tables import repositories

PREFIX = "/api/v1"


async def health(request: Request) -> Response:
    """
    summary: The dashboard is up and its store answers, with its schema.
    responses:
      200:
        description: The store answered a read of the `repositories` table.
      503:
        description: The store did not answer, or has no schema yet.
    """
    async with request.state.engine.connect() as conn:
        await conn.execute(select(repositories.c.name).limit(1))
    return JSONResponse({"status": "ok"})


async def changes(request: Request) -> Response:
    """
    summary: A cheap token that changes whenever a consumer stores a batch or comes back up.
    description: >
      The page's live mode asks for it every few seconds while the tab is visible and
      reloads its data only when `token` differs from the last one. Two index lookups.
    responses:
      200:
        description: >
          `token` (opaque), `last_stored_at` (the latest batch any consumer stored) and
          `pipeline_started_at` (the latest start of a consumer's heartbeat run), null
          before the first.
    """
    async with request.state.engine.connect() as conn:
        return JSONResponse(await store_changes.latest(conn))


def routes() -> list[BaseRoute]:
    repo = PREFIX + "/repositories/{name:path}"
    return [
        Route(PREFIX + "/health", health, methods=["GET"]),
        Route(PREFIX + "/changes", changes, methods=["GET"]),
        Route(PREFIX + "/summary", api_load.summary, methods=["GET"]),
        Route(PREFIX + "/load", api_load.load_series, methods=["GET"]),
        Route(PREFIX + "/pulls/series", api_load.pull_series, methods=["GET"]),
        Route(PREFIX + "/top/images", api_load.top_images, methods=["GET"]),
        Route(PREFIX + "/top/clients", api_load.top_clients, methods=["GET"]),
        Route(PREFIX + "/activity", api_activity.recent_activity, methods=["GET"]),
        Route(PREFIX + "/audit", api_activity.audit_log, methods=["GET"]),
        Route(PREFIX + "/sources", api_sources.sources, methods=["GET"]),
        Route(PREFIX + "/gaps", api_reconcile.event_gaps, methods=["GET"]),
        Route(PREFIX + "/reconcile", api_reconcile.reconcile_status, methods=["GET"]),
        Route(PREFIX + "/reconcile/passes", api_reconcile.reconcile_passes, methods=["GET"]),
        Route(PREFIX + "/reconcile/passes/{id}/repairs", api_reconcile.reconcile_repairs, methods=["GET"]),
        Route(PREFIX + "/repositories", api_inventory.repositories, methods=["GET"]),
        Route(repo + "/tags", api_inventory.repository_tags, methods=["GET"]),
        Route(repo + "/manifests", api_inventory.repository_manifests, methods=["GET"]),
        Route(repo + "/lifecycle", api_lifecycle.repository_lifecycle, methods=["GET"]),
        Route(repo, api_inventory.repository, methods=["GET"]),
        Route(PREFIX + "/lifecycle/stale", api_lifecycle.stale_images, methods=["GET"]),
        Route(PREFIX + "/lifecycle/storage", api_lifecycle.storage_overview, methods=["GET"]),
        viewer(Route(PREFIX + "/lifecycle/cleanup/preview", api_cleanup.cleanup_preview, methods=["POST"])),
        admin(Route(PREFIX + "/lifecycle/cleanup/apply", api_cleanup.cleanup_apply, methods=["POST"])),
    ]
