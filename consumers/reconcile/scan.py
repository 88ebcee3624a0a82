"""Reading one repository from the registry: :class:`Scanner`.

For every tag the list names: a HEAD when the store knows the tag (one request per tag in
a pass that finds nothing new), a GET by tag when it does not (the digest and the content
in one request). The content of every digest the store has none of is fetched once by
digest and checked; an index's children are followed (three levels at most). A manifest
the store holds as live that no tag reaches is asked for with a HEAD by digest: a 404
means it was deleted. The contents go into the store at the end of the repository.

A manifest whose bytes do not match its digest is counted and left out, with the tags
that point at it (never stored, never observed); the pass goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from consumers.reconcile.compare import RepositoryScan, SeenManifest, SeenTag
from consumers.reconcile.store_view import RepositoryState, children_of, known_contents, store_contents
from consumers.reconcile.summary import PassSummary
from consumers.registry_api import INDEX_TYPES, BadContent, Manifest, NotFound, RegistryClient

MAX_DEPTH = 3  # index → index → image at most
T = TypeVar("T")
log = logging.getLogger("consumers.reconcile")


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


async def _each(items: Iterable[T], work: Callable[[T], Awaitable[Any]]) -> list[Any]:
    """``work`` on every item at once: the client's limits pace the requests."""
    return list(await asyncio.gather(*(work(item) for item in items)))


class Scanner:
    def __init__(
        self,
        client: RegistryClient,
        engine: AsyncEngine,
        summary: PassSummary,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.client, self.engine, self.summary, self.clock = client, engine, summary, clock

    def _bad(self, name: str, error: BadContent) -> None:
        self.summary.errors["bad_content"] += 1
        log.warning("manifest left out", extra={"fields": {"repository": name, "error": str(error)[:500]}})

    async def scan(self, name: str, state: RepositoryState) -> RepositoryScan:
        scan = RepositoryScan(name, listed_at=self.clock())
        try:
            listed = await self.client.tags(name)
        except NotFound:  # 2.x lists repositories that hold blobs but no manifest: no tags
            listed = []
        scan.listed = set(listed)
        self.summary.tags += len(listed)
        fetched: dict[str, Manifest] = {}
        known_tags = state.live_tags

        async def one(tag: str) -> SeenTag | str | None:
            at = self.clock()
            try:
                if tag in known_tags:
                    ref = await self.client.head_manifest(name, tag)
                    if ref is None:
                        return tag  # gone since the list was read
                    return SeenTag(tag, SeenManifest(ref.digest, ref.media_type, ref.size, at, "HEAD"))
                manifest = await self.client.get_manifest(name, tag)
            except NotFound:
                return tag
            except BadContent as exc:
                self._bad(name, exc)
                return None
            self.summary.manifests_fetched += 1
            fetched[manifest.ref.digest] = manifest
            ref = manifest.ref
            return SeenTag(tag, SeenManifest(ref.digest, ref.media_type, ref.size, at, "GET"))

        for seen in await _each(listed, one):
            if isinstance(seen, str):
                scan.listed.discard(seen)
            elif seen is not None:
                scan.tags.append(seen)
        await self._reachable(scan, fetched)
        await self._gone(scan, state)
        if fetched:
            async with self.engine.begin() as connection:
                await store_contents(connection, list(fetched.values()), self.clock())
        return scan

    async def _reachable(self, scan: RepositoryScan, fetched: dict[str, Manifest]) -> None:
        """Every manifest the tags reach, children included, each with content in the store."""
        frontier = {seen.manifest.digest: seen.manifest for seen in scan.tags}
        scan.manifests.update(frontier)
        bad: set[str] = set()
        for _ in range(MAX_DEPTH):
            if not frontier:
                break
            async with self.engine.connect() as connection:
                known = await known_contents(connection, set(frontier) - set(fetched))
                stored_children = await children_of(connection, known)
            missing = [
                seen for digest, seen in frontier.items() if digest not in fetched and digest not in known
            ]
            bad |= await self._fetch(scan.name, missing, fetched)
            frontier = self._children(scan, frontier, fetched, stored_children)
        for digest in bad:
            scan.manifests.pop(digest, None)
        scan.tags = [seen for seen in scan.tags if seen.manifest.digest not in bad]

    async def _fetch(self, name: str, missing: list[SeenManifest], fetched: dict[str, Manifest]) -> set[str]:
        """GET each by digest; returns the digests whose content failed its check."""

        async def one(seen: SeenManifest) -> str | None:
            try:
                fetched[seen.digest] = await self.client.get_manifest(name, seen.digest)
            except BadContent as exc:
                self._bad(name, exc)
                return seen.digest
            except NotFound:
                return seen.digest  # gone since the tag was read: the next pass sees it
            self.summary.manifests_fetched += 1
            return None

        return {digest for digest in await _each(missing, one) if digest is not None}

    def _children(
        self,
        scan: RepositoryScan,
        parents: dict[str, SeenManifest],
        fetched: dict[str, Manifest],
        stored: dict[str, list[dict[str, Any]]],
    ) -> dict[str, SeenManifest]:
        found: dict[str, SeenManifest] = {}
        for digest, parent in parents.items():
            if digest in fetched:
                content = fetched[digest].content
                children = [(c.digest, c.media_type, c.size) for c in content.children]
            elif parent.media_type in INDEX_TYPES or digest in stored:
                children = [(c["digest"], c["media_type"], c["size"]) for c in stored.get(digest, [])]
            else:
                children = []
            for child, media_type, size in children:
                if child not in scan.manifests:
                    found[child] = SeenManifest(child, media_type, size, parent.at, "GET")
        scan.manifests.update(found)
        return found

    async def _gone(self, scan: RepositoryScan, state: RepositoryState) -> None:
        """Live manifests of the store that no tag reaches: still there, or deleted?"""

        async def one(digest: str) -> None:
            at = self.clock()
            if await self.client.head_manifest(scan.name, digest) is None:
                scan.gone[digest] = at

        await _each(sorted(state.live_manifests - set(scan.manifests)), one)
