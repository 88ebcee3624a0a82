"""The facts per manifest and per tag, read from the store in a handful of set-based queries
(no query per row), as ``docs/lifecycle.md`` ("Facts per tag and manifest") describes.

* :func:`manifest_facts`: every live manifest (of one repository, or all), with its live
  tags, when it was last pulled (GET and HEAD apart), what holds it, and its size.
* :func:`tag_facts`: every live tag of one repository, with its pulls in the last 7, 30
  and 90 days, pulls by digest included for the days the tag pointed at that digest.
* :func:`stale_manifests`: the live manifests not pulled within N days (or never), largest
  first, a page at a time.

The store keeps UTC without a zone; everything returned is aware UTC, and ``now`` may be
either (naive means UTC).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.lifecycle.contents import Contents, Scope, load_contents, scoped
from consumers.lifecycle.model import ManifestFacts, PullCounts, TagFacts
from consumers.lifecycle.stale import stale_page
from consumers.store.tables import manifests, pull_last, pulls_daily, tag_history, tags

WINDOWS = (7, 30, 90)  # days of TagFacts.pulls_7d, pulls_30d, pulls_90d
Key = tuple[str, str]  # (repository, digest or tag)


@dataclass(frozen=True, slots=True)
class _Last:
    get: datetime | None = None
    head: datetime | None = None

    def since(self, start: datetime | None) -> _Last:
        """Only the pulls at or after ``start`` (None: all)."""
        if start is None:
            return self
        return _Last(_at_or_after(self.get, start), _at_or_after(self.head, start))

    def __or__(self, other: _Last) -> _Last:
        return _Last(_latest(self.get, other.get), _latest(self.head, other.head))


_NEVER = _Last()


@dataclass(frozen=True, slots=True)
class _LiveTag:
    repository: str
    tag: str
    digest: str | None
    since: datetime  # when it started pointing at its digest (its open tag_history row)
    updated_at: datetime
    updated_by: str | None


def naive_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


def _aware_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else aware(moment)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def _at_or_after(moment: datetime | None, start: datetime) -> datetime | None:
    return moment if moment is not None and moment >= start else None


def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


async def manifest_facts(
    conn: AsyncConnection, repository: Scope = None, *, contents: Contents | None = None
) -> list[ManifestFacts]:
    """Every live manifest of ``repository`` (a name, a set of names, or None: of all), by
    repository, newest push first. ``contents``: what :func:`load_contents` loaded for the
    same repositories, when the caller has it already (the plan shares it with the blob graph)."""
    m = manifests.c
    query = select(
        m.repository, m.digest, m.media_type, m.first_pushed_at, m.last_pushed_at, m.pushed_by
    ).where(m.deleted_at.is_(None))
    rows = list((await conn.execute(scoped(query, m.repository, repository))).all())
    rows.sort(key=lambda r: r.digest)  # stable sorts, in Python: a database sorts text by
    rows.sort(key=lambda r: r.last_pushed_at, reverse=True)  # its collation, slowly
    rows.sort(key=lambda r: r.repository)
    live = {(row.repository, row.digest) for row in rows}
    if contents is None:
        contents = await load_contents(conn, repository)
    live_tags = await _live_tags(conn, repository)
    last = await _last_by_digest(conn, repository)
    tag_pulls = await _last_by_tag(conn, repository)
    tags_of: dict[Key, list[str]] = {}
    for tag in live_tags:
        if tag.digest is None:
            continue
        key = (tag.repository, tag.digest)
        tags_of.setdefault(key, []).append(tag.tag)
        by_name = tag_pulls.get((tag.repository, tag.tag))
        if by_name is not None:  # pulls by the tag's name count since it points here
            last[key] = last.get(key, _Last()) | by_name.since(tag.since)
    parents = _parents(live, contents)
    return [_manifest(row, contents, tags_of, last, parents) for row in rows]


def _manifest(
    row: Any,
    contents: Contents,
    tags_of: dict[Key, list[str]],
    lasts: dict[Key, _Last],
    parents_of: dict[Key, list[str]],
) -> ManifestFacts:
    key = (row.repository, row.digest)
    content, last = contents.of.get(row.digest), lasts.get(key, _NEVER)
    tag_names, parents = tags_of.get(key, ()), parents_of.get(key, ())
    return ManifestFacts(
        repository=row.repository,
        digest=row.digest,
        media_type=row.media_type,
        kind=content.kind if content is not None else "unknown",
        tags=tuple(sorted(tag_names)),
        first_pushed_at=aware(row.first_pushed_at),
        last_pushed_at=aware(row.last_pushed_at),
        pushed_by=row.pushed_by,
        last_get_at=_aware_or_none(last.get),
        last_head_at=_aware_or_none(last.head),
        parents=tuple(sorted(set(parents))),
        size=contents.size(row.digest),
    )


def _parents(live: set[Key], contents: Contents) -> dict[Key, list[str]]:
    """What holds each live manifest in its repository: the live indexes listing it, and
    for an OCI artifact its subject, when live."""
    held: dict[Key, list[str]] = {}
    for repository, digest in live:
        for child in contents.children.get(digest, []):
            if (repository, child) in live:
                held.setdefault((repository, child), []).append(digest)
        content = contents.of.get(digest)
        if content is not None and content.subject and (repository, content.subject) in live:
            held.setdefault((repository, digest), []).append(content.subject)
    return held


async def _live_tags(conn: AsyncConnection, repository: Scope) -> list[_LiveTag]:
    t, h = tags.c, tag_history.c
    period = and_(h.repository == t.repository, h.tag == t.tag, h.replaced_at.is_(None))
    query = (
        select(
            t.repository, t.tag, t.digest, t.updated_at, t.updated_by, func.min(h.pushed_at).label("since")
        )
        .select_from(tags.outerjoin(tag_history, period))
        .where(t.deleted_at.is_(None))
        .group_by(t.repository, t.tag, t.digest, t.updated_at, t.updated_by)
    )
    return [
        _LiveTag(r.repository, r.tag, r.digest, r.since or r.updated_at, r.updated_at, r.updated_by)
        for r in (await conn.execute(scoped(query, t.repository, repository))).all()
    ]


async def _last_by_digest(conn: AsyncConnection, repository: Scope) -> dict[Key, _Last]:
    """``pull_last`` of the live manifests, by digest."""
    p, m = pull_last.c, manifests.c
    on = and_(m.repository == p.repository, m.digest == p.reference, m.deleted_at.is_(None))
    query = select(p.repository, p.reference, p.last_get_at, p.last_head_at).select_from(
        pull_last.join(manifests, on)
    )
    return {
        (r.repository, r.reference): _Last(r.last_get_at, r.last_head_at)
        for r in (await conn.execute(scoped(query, p.repository, repository))).all()
    }


async def _last_by_tag(conn: AsyncConnection, repository: Scope) -> dict[Key, _Last]:
    """``pull_last`` of the live tags, by tag name."""
    p, t = pull_last.c, tags.c
    on = and_(t.repository == p.repository, t.tag == p.reference, t.deleted_at.is_(None))
    query = select(p.repository, p.reference, p.last_get_at, p.last_head_at).select_from(
        pull_last.join(tags, on)
    )
    return {
        (r.repository, r.reference): _Last(r.last_get_at, r.last_head_at)
        for r in (await conn.execute(scoped(query, p.repository, repository))).all()
    }


async def tag_facts(conn: AsyncConnection, repository: str, now: datetime) -> list[TagFacts]:
    """Every live tag of ``repository``, newest push first."""
    now = naive_utc(now)
    live_tags = await _live_tags(conn, repository)
    h, p = tag_history.c, pull_last.c
    firsts = (
        select(h.tag, func.min(h.pushed_at).label("at")).where(h.repository == repository).group_by(h.tag)
    )
    first: dict[str, datetime] = {r.tag: r.at for r in await conn.execute(firsts)}
    query = select(p.reference, p.last_get_at, p.last_head_at).where(p.repository == repository)
    last = {r.reference: _Last(r.last_get_at, r.last_head_at) for r in await conn.execute(query)}
    counts = await _window_counts(conn, repository, now, [t.tag for t in live_tags])
    facts = []
    for tag in live_tags:
        pulled = last.get(tag.tag, _Last())
        if tag.digest is not None:
            pulled = pulled | last.get(tag.digest, _Last()).since(tag.since)
        windows = counts.get(tag.tag, {})
        facts.append(
            TagFacts(
                repository=repository,
                tag=tag.tag,
                digest=tag.digest,
                first_pushed_at=aware(min(first.get(tag.tag) or tag.since, tag.since)),
                last_pushed_at=aware(tag.updated_at),
                pushed_by=tag.updated_by,
                last_get_at=_aware_or_none(pulled.get),
                last_head_at=_aware_or_none(pulled.head),
                pulls_7d=windows.get(7, PullCounts()),
                pulls_30d=windows.get(30, PullCounts()),
                pulls_90d=windows.get(90, PullCounts()),
            )
        )
    facts.sort(key=lambda f: (-f.last_pushed_at.timestamp(), f.tag))
    return facts


async def _window_counts(
    conn: AsyncConnection, repository: str, now: datetime, names: Iterable[str]
) -> dict[str, dict[int, PullCounts]]:
    """tag → window (days) → manifest pulls: by the tag's name, plus by each digest it
    pointed at, on the days it pointed there (day granularity: both digests count on the
    day it moved). The window of N days is today and the N - 1 days before (UTC)."""
    today = _day(now)
    start = today - timedelta(days=max(WINDOWS) - 1)
    d, h = pulls_daily.c, tag_history.c
    query = select(d.reference, d.day, d.manifest_gets, d.manifest_heads).where(
        d.repository == repository, d.day >= start, d.manifest_gets + d.manifest_heads > 0
    )
    daily: dict[tuple[str, datetime], tuple[int, int]] = {
        (r.reference, r.day): (r.manifest_gets, r.manifest_heads) for r in (await conn.execute(query)).all()
    }
    periods = select(h.tag, h.digest, h.pushed_at, h.replaced_at).where(
        h.repository == repository,
        h.digest.is_not(None),
        (h.replaced_at.is_(None)) | (h.replaced_at >= start),
    )
    days_of: dict[str, list[datetime]] = {}
    for ref, day in daily:
        days_of.setdefault(ref, []).append(day)
    refs = {name: {(name, day) for day in days_of.get(name, [])} for name in names}
    for period in (await conn.execute(periods)).all():
        days = refs.get(period.tag)
        if days is None:
            continue
        first, last = max(_day(period.pushed_at), start), _day(period.replaced_at or now)
        day = first
        while day <= last:
            if (period.digest, day) in daily:
                days.add((period.digest, day))
            day += timedelta(days=1)
    return {name: _windows(days, daily, today) for name, days in refs.items()}


def _windows(
    days: set[tuple[str, datetime]], daily: dict[tuple[str, datetime], tuple[int, int]], today: datetime
) -> dict[int, PullCounts]:
    out: dict[int, PullCounts] = {}
    for window in WINDOWS:
        start = today - timedelta(days=window - 1)
        chosen = [daily[key] for key in days if key[1] >= start]
        out[window] = PullCounts(gets=sum(g for g, _ in chosen), heads=sum(h for _, h in chosen))
    return out


async def stale_manifests(
    conn: AsyncConnection, *, days: int, now: datetime, limit: int, offset: int = 0
) -> list[ManifestFacts]:
    """Live manifests not pulled within ``days`` days of ``now`` (or never), largest first
    (unknown sizes last), then by repository and digest. The store picks the page
    (:mod:`consumers.lifecycle.stale`); the facts are built for that page only."""
    keys = await stale_page(conn, naive_utc(now) - timedelta(days=days), limit, offset)
    if not keys:
        return []
    facts = {(f.repository, f.digest): f for f in await manifest_facts(conn, frozenset(r for r, _ in keys))}
    return [facts[key] for key in keys if key in facts]
