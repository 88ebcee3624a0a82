"""The OpenAPI document, served at ``/openapi.json``.

Each API handler documents itself in its docstring (YAML, read by Starlette's
``SchemaGenerator``); the shared parameters and shapes live here under ``components``
and are referenced with ``$ref``. Every operation also says who may call it: the role its
route needs (``x-required-role``: ``viewer``, ``admin`` or ``public``), the accepted
credentials (``security``) and the 401/403 answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.schemas import SchemaGenerator

from consumers.dashboard.access import COOKIE, required_role
from consumers.dashboard.pagination import DEFAULT_LIMIT, MAX_LIMIT
from consumers.dashboard.params import DEFAULT_RANGE, MAX_BUCKETS


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


PARAMETERS: dict[str, Any] = {
    "name": {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "Repository name; it may contain slashes (`team/hello`).",
        "schema": {"type": "string"},
    },
    "limit": _query(
        "limit",
        "Rows per page.",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    ),
    "offset": _query(
        "offset", "Rows to skip (use `page.next_offset`).", {"type": "integer", "minimum": 0, "default": 0}
    ),
    "range": _query(
        "range",
        "Window length back from `until`, e.g. `15m`, `6h`, `7d`. Ignored when `since` is given.",
        {"type": "string", "pattern": "^[0-9]+[mhd]$", "default": DEFAULT_RANGE},
    ),
    "since": _query(
        "since", "Window start (RFC 3339, inclusive).", {"type": "string", "format": "date-time"}
    ),
    "until": _query(
        "until", "Window end (RFC 3339, exclusive); default now.", {"type": "string", "format": "date-time"}
    ),
    "action": _query("action", "Only this action: push, delete, mount or another.", {"type": "string"}),
    "kind": _query("kind", "Only this kind: manifest, blob, tag, mount or other.", {"type": "string"}),
    "actor": _query("actor", "Only events by this actor (exact name).", {"type": "string"}),
    "repository": _query("repository", "Only this repository (exact name).", {"type": "string"}),
    "step": _query(
        "step",
        f"Bucket width; default the finest giving at most {MAX_BUCKETS} buckets.",
        {"type": "string", "enum": ["minute", "hour", "day"]},
    ),
}

SCHEMAS: dict[str, Any] = {
    "Page": {
        "type": "object",
        "required": ["limit", "offset", "next_offset"],
        "properties": {
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "next_offset": {"type": ["integer", "null"], "description": "null on the last page"},
        },
    },
    "Window": {
        "type": "object",
        "properties": {
            "since": {"type": "string", "format": "date-time"},
            "until": {"type": "string", "format": "date-time"},
        },
    },
    "Error": {"type": "object", "properties": {"detail": {"type": "string"}}},
}

BASE: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "registry-kafka-bridge dashboard API",
        "version": "1",
        "description": "Views of the consumers' store: inventory, pull statistics, activity, audit"
        " log and the images' lifecycle; and the cleanup of a retention policy (a preview that reads"
        " only, an apply for admins that deletes through the registry's API). Every list is paginated"
        " with `limit`/`offset`; times are RFC 3339 UTC."
        " A malformed parameter gets 400, an unknown repository 404, and any endpoint 503"
        " when the store does not answer; each with a JSON `detail`. Every operation needs the role"
        " in its `x-required-role` (viewer for reads, admin for anything that changes state): send"
        " `Authorization: Bearer <token>`, or sign in at `/signin` in a browser; without credentials"
        " the answer is 401, with too small a role 403.",
    },
    "components": {
        "parameters": PARAMETERS,
        "schemas": SCHEMAS,
        "responses": {
            "BadQuery": {
                "description": "A query parameter is malformed; `detail` names it.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
            "Unauthorized": {
                "description": "No credentials, or a token that is not accepted"
                " (`WWW-Authenticate` says which).",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
            "Forbidden": {
                "description": "The caller's role is not enough (or a state-changing request failed"
                " the CSRF checks); `detail` says which.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "A viewer or admin token."},
            "session": {
                "type": "apiKey",
                "in": "cookie",
                "name": COOKIE,
                "description": "The browser session of a token sign-in (`/signin`).",
            },
        },
    },
}


def openapi_document(api_routes: Sequence[BaseRoute]) -> dict[str, Any]:
    document = SchemaGenerator(BASE).get_schema(list(api_routes))
    for route in api_routes:
        if isinstance(route, Route) and route.include_in_schema:
            _declare_access(document, route)
    return document


def _declare_access(document: dict[str, Any], route: Route) -> None:
    operations = document.get("paths", {}).get(re.sub(r":\w+}", "}", route.path), {})
    for method in route.methods or ():
        operation = operations.get(method.lower())
        if operation is None:  # HEAD is not documented
            continue
        role = required_role(route, method)
        operation["x-required-role"] = role.value if role else "public"
        if role is None:
            operation["security"] = []
            continue
        operation["security"] = [{"bearer": []}, {"session": []}]
        responses = operation.setdefault("responses", {})
        responses.setdefault(401, {"$ref": "#/components/responses/Unauthorized"})
        responses.setdefault(403, {"$ref": "#/components/responses/Forbidden"})


def openapi_route(api_routes: Sequence[BaseRoute]) -> Route:
    document = openapi_document(api_routes)

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    return Route("/openapi.json", openapi, methods=["GET"], include_in_schema=False)
