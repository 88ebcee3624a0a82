"""The JSON API's handlers: parse the query, run one query module, answer JSON.

Each handler's docstring is its OpenAPI operation (YAML). Handlers only translate
between HTTP and the query functions in ``consumers.dashboard.queries``.
"""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route


async def health(request: Request) -> Response:
    """
    summary: The dashboard is up and its store answers.
    responses:
      200:
        description: The store answered `SELECT 1`.
    """
    async with request.state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return JSONResponse({"status": "ok"})


def routes() -> list[BaseRoute]:
    return [
        Route("/api/v1/health", health, methods=["GET"]),
    ]
