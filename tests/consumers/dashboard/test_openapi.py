"""The OpenAPI document covers every API route, and every reference in it resolves."""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import Route

from consumers.dashboard import api
from consumers.dashboard.openapi import openapi_document


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_route_is_documented_with_its_parameters() -> None:
    routes = [r for r in api.routes() if isinstance(r, Route)]
    document = openapi_document(routes)
    paths = document["paths"]
    assert sorted(paths) == sorted(re.sub(r":\w+}", "}", r.path) for r in routes)
    for path, operations in paths.items():
        assert operations, path
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation["summary"] and "200" in {str(k) for k in operation["responses"]}, where
            declared = {
                resolve(document, p["$ref"])["name"] if "$ref" in p else p["name"]
                for p in operation.get("parameters", [])
            }
            assert set(re.findall(r"{(\w+)}", path)) <= declared, where
            if method != "get":
                assert operation["requestBody"]["content"], f"{where} documents its body"


def test_every_reference_resolves() -> None:
    document = openapi_document(api.routes())
    found = refs(document["paths"])
    assert found, "the handlers use the shared components"
    for ref in found:
        assert resolve(document, ref), ref
