"""The lifecycle's values (:mod:`consumers.lifecycle`: facts, storage, the plan's summary) as
the API's JSON: a dataclass by its fields plus its public properties (``last_pulled_at``,
a count's ``total``), times in RFC 3339 UTC, tuples as lists. One function, so that every
endpoint spells the same value the same way."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from consumers.dashboard.params import iso


def _properties(cls: type) -> list[str]:
    return [
        name
        for klass in cls.__mro__
        for name, member in vars(klass).items()
        if isinstance(member, property) and not name.startswith("_")
    ]


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        found = {field.name: jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
        for name in _properties(type(value)):
            found.setdefault(name, jsonable(getattr(value, name)))
        return found
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(item) for item in value]
        return sorted(items) if isinstance(value, set | frozenset) else items
    return value
