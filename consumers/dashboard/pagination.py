"""Offset pagination shared by every list endpoint.

A query asks the store for ``limit + 1`` rows; the extra row only tells whether a next
page exists, so no ``COUNT(*)`` is needed. Every list answer has the same shape::

    {"items": [...], "page": {"limit": 50, "offset": 0, "next_offset": 50}}

``next_offset`` is ``null`` on the last page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consumers.dashboard.params import integer

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class PageRequest:
    """``limit`` rows starting at ``offset``."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> PageRequest:
        limit = integer(query, "limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
        return cls(limit=limit, offset=integer(query, "offset", 0, minimum=0))

    @property
    def fetch(self) -> int:
        """How many rows to ask the store for (one more than the page holds)."""
        return self.limit + 1


def page_body(rows: Sequence[Mapping[str, Any]], page: PageRequest, **extra: Any) -> dict[str, Any]:
    """The JSON body for one page of ``rows`` (fetched with ``page.fetch``)."""
    more = len(rows) > page.limit
    body: dict[str, Any] = dict(extra)
    body["items"] = [dict(row) for row in rows[: page.limit]]
    body["page"] = {
        "limit": page.limit,
        "offset": page.offset,
        "next_offset": page.offset + page.limit if more else None,
    }
    return body
