"""What the lifecycle knows about a manifest and a tag: the facts the store derives from
the event stream and the reconcile (``docs/lifecycle.md``). Plain values, no I/O: the
store queries (:mod:`consumers.lifecycle.facts`) build them, the retention plan
(:mod:`consumers.lifecycle.plan`) and the dashboard read them.

All times are aware UTC. "Last pulled" counts manifest GETs and HEADs (the registry counts
a HEAD as a pull) by user agents that are not excluded (``REGBRIDGE_LIFECYCLE_IGNORE_USERAGENTS``),
by digest or by any tag that pointed at the digest at the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PullCounts:
    """Manifest pulls in a window, GET apart from HEAD."""

    gets: int = 0
    heads: int = 0

    @property
    def total(self) -> int:
        return self.gets + self.heads


@dataclass(frozen=True, slots=True)
class ManifestFacts:
    """One live manifest (``manifests.deleted_at IS NULL``) of one repository."""

    repository: str
    digest: str
    media_type: str | None
    kind: str  # image, index, other (manifest_contents.kind), or unknown before the reconcile fetched it
    tags: tuple[str, ...]  # live tags pointing at it now, sorted
    first_pushed_at: datetime
    last_pushed_at: datetime
    pushed_by: str | None
    last_get_at: datetime | None
    last_head_at: datetime | None
    parents: tuple[str, ...]  # live manifests of the same repository that hold it: indexes, subjects
    size: int | None  # manifest + config + layers (+ an index's children); None when unknown

    @property
    def last_pulled_at(self) -> datetime | None:
        times = [t for t in (self.last_get_at, self.last_head_at) if t is not None]
        return max(times) if times else None


@dataclass(frozen=True, slots=True)
class TagFacts:
    """One live tag: when it was pushed and by whom, when pulled, how often lately."""

    repository: str
    tag: str
    digest: str | None
    first_pushed_at: datetime  # the first push of this tag name (its history)
    last_pushed_at: datetime  # when it last moved (tags.updated_at)
    pushed_by: str | None
    last_get_at: datetime | None
    last_head_at: datetime | None
    pulls_7d: PullCounts
    pulls_30d: PullCounts
    pulls_90d: PullCounts

    @property
    def last_pulled_at(self) -> datetime | None:
        times = [t for t in (self.last_get_at, self.last_head_at) if t is not None]
        return max(times) if times else None
