"""Storage: the bytes the live manifests hold, from the contents the reconcile fetched
(``docs/lifecycle.md``, "Storage").

A live manifest of a repository *references* blobs, each identified by its digest: the
manifest's own bytes, its config and layers (``manifest_blobs``), and for an index each
child manifest and the child's blobs. The same digest referenced twice (a base layer of
two images, a manifest in two repositories) is stored once by the registry, so it is
counted once: in a repository's bytes, and again once in the registry total.

:class:`BlobGraph` loads every reference once and answers from memory: a repository's
bytes, the total, and what a set of deletions would free (blobs nothing else references;
the registry's garbage collection frees them). :func:`write_snapshot` keeps a row per day
and repository in ``storage_daily``; :func:`storage_overview` reads the latest snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.lifecycle.contents import Contents, load_contents, scoped
from consumers.lifecycle.facts import aware, naive_utc
from consumers.store.tables import manifests, storage_daily
from consumers.store.writes import execute_many

Ref = tuple[str, str]  # (repository, manifest digest)
TOTAL = ""  # storage_daily.repository of the registry total
GROWTH_DAYS = 30  # growth per day is measured against the oldest snapshot this recent
HISTORY_DAYS = 90  # days of the total StorageOverview.history holds


@dataclass(frozen=True, slots=True)
class RepositoryStorage:
    """One repository now (live manifests), or the registry total (``repository`` ``''``)."""

    repository: str
    bytes: int  # unique blobs and manifests of its live manifests
    manifests: int  # live manifests
    blobs: int  # unique configs and layers
    unknown_manifests: int = 0  # live manifests whose contents were never fetched: only
    # their own bytes (as pushed) are in ``bytes``, their blobs are not


@dataclass(frozen=True, slots=True)
class StoragePoint:
    day: datetime  # the snapshot's day (UTC midnight, aware)
    bytes: int


@dataclass(frozen=True, slots=True)
class RepositorySnapshot:
    """A repository's row of the latest snapshot."""

    repository: str
    bytes: int
    manifests: int
    blobs: int
    growth_per_day: float | None  # bytes per day since its oldest snapshot of the last 30 days


@dataclass(frozen=True, slots=True)
class StorageOverview:
    """The latest ``storage_daily`` snapshot: a page of repositories (most bytes first),
    the registry total, and how the total grew."""

    as_of: datetime | None  # when the snapshot was computed; None: no snapshot yet
    total: RepositorySnapshot  # repository ''
    repositories: tuple[RepositorySnapshot, ...]
    repository_count: int  # every repository of the snapshot (for paging)
    history: tuple[StoragePoint, ...]  # the total per day, oldest first, last 90 days


class BlobGraph:
    """Every live manifest's references, loaded once (:meth:`load`)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._sizes: list[int] = []
        self._is_manifest: list[bool] = []
        self.refs: dict[Ref, frozenset[int]] = {}
        self._of: dict[str, list[Ref]] = {}  # repository → its refs
        self.unknown: set[Ref] = set()  # contents never fetched

    @classmethod
    async def load(
        cls, conn: AsyncConnection, repository: str | None = None, *, contents: Contents | None = None
    ) -> BlobGraph:
        """The graph of every live manifest (of ``repository`` only, when given). ``contents``:
        what ``load_contents(conn, repository, with_blobs=True)`` loaded, when the caller has it."""
        m = manifests.c
        query = select(m.repository, m.digest, m.size).where(m.deleted_at.is_(None))
        rows = (await conn.execute(scoped(query, m.repository, repository))).all()
        if contents is None:
            contents = await load_contents(conn, repository, with_blobs=True)
        graph = cls()
        for repo, digest, size in rows:
            graph._add(repo, digest, size, contents)
        return graph

    def _id(self, digest: str, size: int | None, manifest: bool) -> int:
        found = self._ids.get(digest)
        if found is None:
            found = self._ids[digest] = len(self._sizes)
            self._sizes.append(size or 0)
            self._is_manifest.append(manifest)
        elif size and not self._sizes[found]:
            self._sizes[found] = size
        return found

    def _add(self, repository: str, digest: str, pushed_size: int | None, contents: Contents) -> None:
        ids: list[int] = []
        if digest not in contents.of:
            self.unknown.add((repository, digest))
            ids.append(self._id(digest, pushed_size, True))
        blob_id = self._id
        for held in contents.closure(digest):
            content = contents.of.get(held)
            if content is None:
                continue
            ids.append(blob_id(held, content.size if content.size is not None else pushed_size, True))
            ids.extend(blob_id(blob, size, False) for blob, size in contents.blobs.get(held, ()))
        self.refs[(repository, digest)] = frozenset(ids)
        self._of.setdefault(repository, []).append((repository, digest))

    def _bytes(self, ids: Iterable[int]) -> int:
        sizes = self._sizes
        return sum(sizes[i] for i in ids)

    def _union(self, refs: Iterable[Ref]) -> set[int]:
        found: set[int] = set()
        for ref in refs:
            found |= self.refs[ref]
        return found

    def repositories(self) -> list[str]:
        return sorted(self._of)

    def storage(self, repository: str | None = None) -> RepositoryStorage:
        """One repository's figures, or the registry total (None)."""
        refs = list(self.refs) if repository is None else self._of.get(repository, [])
        ids = self._union(refs)
        return RepositoryStorage(
            repository=repository or TOTAL,
            bytes=self._bytes(ids),
            manifests=len(refs),
            blobs=sum(1 for i in ids if not self._is_manifest[i]),
            unknown_manifests=sum(1 for ref in refs if ref in self.unknown),
        )

    def repository_bytes(self, repository: str) -> int:
        """Unique blobs and manifests of the repository's live manifests."""
        return self._bytes(self._union(self._of.get(repository, [])))

    def total_bytes(self) -> int:
        """The registry: every blob and manifest counted once, whatever shares it."""
        return self._bytes(self._union(self.refs))

    def freed(self, deleted: Sequence[Ref]) -> dict[Ref, int]:
        """(repository, digest) → the bytes its deletion frees: blobs and manifests no live
        manifest outside ``deleted`` references, each attributed to the first deletion in
        ``deleted`` that references it, so the values sum to what the deletions free
        together. A reference that is not live frees 0."""
        gone = set(deleted)
        kept = self._union(ref for ref in self.refs if ref not in gone)
        attributed: set[int] = set()
        out: dict[Ref, int] = {}
        for ref in deleted:
            if ref in out:
                continue
            mine = self.refs.get(ref, frozenset()) - kept - attributed
            attributed |= mine
            out[ref] = self._bytes(mine)
        return out


async def repository_storage(
    conn: AsyncConnection, repository: str, *, contents: Contents | None = None
) -> RepositoryStorage:
    """One repository, live (not the snapshot); ``contents`` as :meth:`BlobGraph.load` takes it."""
    graph = await BlobGraph.load(conn, repository, contents=contents)
    return graph.storage(repository)


def _day(moment: datetime) -> datetime:
    return naive_utc(moment).replace(hour=0, minute=0, second=0, microsecond=0)


async def write_snapshot(conn: AsyncConnection, now: datetime) -> None:
    """Today's ``storage_daily`` rows: one per repository with live manifests and the total.
    A later snapshot of the same day replaces the day's rows (a repository gone since has
    no row that day)."""
    graph = await BlobGraph.load(conn)
    day, computed_at = _day(now), naive_utc(now)
    figures = [graph.storage(repository) for repository in graph.repositories()] + [graph.storage()]
    rows = [
        {"day": day, "repository": f.repository, "bytes": f.bytes}
        | {"manifests": f.manifests, "blobs": f.blobs, "computed_at": computed_at}
        for f in figures
    ]
    await conn.execute(delete(storage_daily).where(storage_daily.c.day == day))
    await execute_many(conn, storage_daily.insert(), rows)


def _growth(latest: StoragePoint, oldest: StoragePoint | None) -> float | None:
    if oldest is None or oldest.day >= latest.day:
        return None
    return (latest.bytes - oldest.bytes) / ((latest.day - oldest.day) / timedelta(days=1))


async def storage_overview(conn: AsyncConnection, *, limit: int, offset: int = 0) -> StorageOverview:
    """The latest snapshot: ``limit`` repositories from ``offset``, most bytes first."""
    s = storage_daily.c
    latest = await _latest_day(conn)
    if latest is None:
        return StorageOverview(None, RepositorySnapshot(TOTAL, 0, 0, 0, None), (), 0, ())
    day = select(s.repository, s.bytes, s.manifests, s.blobs, s.computed_at).where(s.day == latest)
    total = (await conn.execute(day.where(s.repository == TOTAL))).one()
    ranked = day.where(s.repository != TOTAL).order_by(s.bytes.desc(), s.repository)
    page = (await conn.execute(ranked.limit(limit).offset(offset))).all()
    count = select(func.count()).where(s.day == latest, s.repository != TOTAL)
    points = await _earlier_points(conn, latest, [TOTAL, *(row.repository for row in page)])
    growth_since = aware(latest - timedelta(days=GROWTH_DAYS))

    def snapshot(row: Any) -> RepositorySnapshot:
        recent = [p for p in points.get(row.repository, []) if p.day >= growth_since]
        growth = _growth(StoragePoint(aware(latest), int(row.bytes)), recent[0] if recent else None)
        return RepositorySnapshot(row.repository, int(row.bytes), int(row.manifests), int(row.blobs), growth)

    return StorageOverview(
        as_of=aware(total.computed_at),
        total=snapshot(total),
        repositories=tuple(snapshot(row) for row in page),
        repository_count=int((await conn.execute(count)).scalar_one()),
        history=(*points.get(TOTAL, []), StoragePoint(aware(latest), int(total.bytes))),
    )


async def _latest_day(conn: AsyncConnection) -> datetime | None:
    """The latest snapshot's day: the last day of the primary key (one index probe), which
    has its total row (:func:`write_snapshot` writes a day's rows together); the last day with
    a total otherwise (a store written by other means)."""
    s = storage_daily.c
    latest = (await conn.execute(select(func.max(s.day)))).scalar_one_or_none()
    if latest is None:
        return None
    has_total = select(s.day).where(s.day == latest, s.repository == TOTAL)
    if (await conn.execute(has_total)).first() is not None:
        return latest  # type: ignore[no-any-return]
    query = select(func.max(s.day)).where(s.repository == TOTAL)
    return (await conn.execute(query)).scalar_one_or_none()  # type: ignore[no-any-return]


async def _earlier_points(
    conn: AsyncConnection, latest: datetime, repositories: Sequence[str]
) -> dict[str, list[StoragePoint]]:
    """repository → its snapshots before ``latest``, oldest first: the total's of the last 90
    days (its history), each other repository's oldest of the last 30 days only (its growth).

    Days are listed, not ranged: the primary key (day, repository) is then probed per day and
    repository instead of scanning every repository's rows of the window."""
    s = storage_daily.c
    points: dict[str, list[StoragePoint]] = {}

    async def add(query: Any) -> None:
        for row in await conn.execute(query.order_by(s.day)):
            points.setdefault(row.repository, []).append(StoragePoint(aware(row.day), int(row.bytes)))

    columns = select(s.repository, s.day, s.bytes)
    days = [latest - timedelta(days=n) for n in range(1, max(GROWTH_DAYS, HISTORY_DAYS) + 1)]
    await add(columns.where(s.day.in_(days), s.repository == TOTAL))
    others = [r for r in repositories if r != TOTAL]
    oldest = latest - timedelta(days=GROWTH_DAYS)
    await add(columns.where(s.day == oldest, s.repository.in_(others)))
    younger = [r for r in others if r not in points]  # no snapshot 30 days ago: their oldest since
    if younger:
        window = columns.where(s.day > oldest, s.day < latest, s.repository.in_(younger))
        first = select(s.repository, func.min(s.day).label("day")).where(
            s.day > oldest, s.day < latest, s.repository.in_(younger)
        )
        firsts = first.group_by(s.repository).subquery()
        await add(
            window.join_from(
                storage_daily, firsts, (firsts.c.repository == s.repository) & (firsts.c.day == s.day)
            )
        )
    return points
