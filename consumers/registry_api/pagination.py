"""Following the registry's pagination (``n`` and ``last``, ``Link: <…>; rel="next"``) safely.

A ``Link`` is followed only to the same scheme, host, port and endpoint: a registry (or
something in front of it) cannot send the client, and its credentials, elsewhere. A page
that repeats a name or, for the catalog, goes backwards, stops the listing with
:class:`~consumers.registry_api.errors.BadPagination` instead of looping.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import httpx

from consumers.registry_api.errors import BadPagination

_NEXT = re.compile(r'<([^>]*)>\s*;\s*(?:[^,]*;\s*)?rel="?next"?', re.IGNORECASE)


def next_link(response: httpx.Response) -> httpx.URL | None:
    """The ``rel="next"`` URL of the answer's ``Link`` header, checked, or None."""
    header = response.headers.get("link")
    if not header:
        return None
    match = _NEXT.search(header)
    if match is None:
        return None
    asked = response.request.url
    target = asked.join(match.group(1))
    if (target.scheme, target.host, target.port) != (asked.scheme, asked.host, asked.port):
        raise BadPagination(f"{asked.path}: the registry's Link points to another host ({target.host})")
    if target.path != asked.path:
        raise BadPagination(f"{asked.path}: the registry's Link points to another endpoint ({target.path})")
    return target


def check_catalog_page(names: Sequence[str], after: str | None, where: str) -> None:
    """Catalog pages are sorted and each starts after the previous one ends: the reconcile
    relies on it to tell which repositories the registry no longer has."""
    previous = after
    for name in names:
        if previous is not None and name <= previous:
            raise BadPagination(
                f"{where}: the catalog went backwards or repeated ({name!r} after {previous!r}); "
                "it cannot be trusted to tell which repositories exist"
            )
        previous = name


def check_tags_page(names: Sequence[str], seen: set[str], where: str) -> None:
    repeated = [name for name in names if name in seen]
    if repeated:
        raise BadPagination(f"{where}: the tag list repeated {repeated[0]!r} (a pagination loop)")
