"""A store that looks like a year of a busy registry, for ``tests.benchmarks.lifecycle``.

At scale 1.0: 5,000 repositories, 50,000 live tags (a third of them moved one to three times,
so their earlier manifests are untagged, some deleted), each image a unique config, one or
two of 40 shared base layers, a layer shared by the repository's images and one or two of
its own; pull sessions (a manifest HEAD by tag, a GET by digest, GETs of the blobs not
cached) adding up to 20 million pull events over 365 days, Zipf-distributed over the tags,
written as ``pulls_hourly``, ``pulls_daily`` and ``pull_clients_daily`` rows, plus the
minute tables for the last 14 days (what the retention keeps), ``pull_last``; pushes,
``tag_history``, an audit row per 200 pull events (deletes, mounts, reconcile repairs), a
daily ``storage_daily`` snapshot, a daily reconcile pass and 7 days of processed event ids.

:func:`generate` yields ``(table, rows)`` chunks, deterministic for a seed; the caller writes
them (executemany on SQLite, COPY on PostgreSQL: ``tests.benchmarks.lifecycle``). The scale
multiplies repositories, tags, pull events and audit rows alike.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# naive UTC, as the store keeps times: the hour the run started (the CLI's plan reads the real
# clock); everything else is relative to it, so a seed gives the same store at any date
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0, tzinfo=None)
DAYS, MINUTE_DAYS = 365, 14
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG = "application/vnd.oci.image.config.v1+json"
EVENTS_PER_AUDIT_ROW = 200
CHUNK = 20_000
Row = dict[str, Any]
Chunk = tuple[str, list[Row]]


def digest(*parts: object) -> str:
    return "sha256:" + hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Shape:
    repositories: int
    tags: int
    pull_events: int
    audit_rows: int

    @classmethod
    def at(cls, scale: float) -> Shape:
        repositories = max(10, round(5000 * scale))
        events = round(20_000_000 * scale)
        return cls(
            repositories, max(repositories, round(50_000 * scale)), events, events // EVENTS_PER_AUDIT_ROW
        )


@dataclass(slots=True)
class Image:
    repository: str
    digest: str
    blobs: list[tuple[str, int]]  # (digest, size): config first
    pushed_at: datetime
    pushed_by: str
    tag: str
    live: bool = True  # False: deleted
    tagged: bool = True

    @property
    def size(self) -> int:
        return 1200 + 90 * len(self.blobs)


@dataclass(slots=True)
class Registry:
    """The inventory, built first; the statistics are drawn from it."""

    repositories: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    current: list[Image] = field(default_factory=list)  # what each live tag points at


def build(shape: Shape, rng: random.Random) -> Registry:
    registry = Registry()
    bases = [(digest("base", n), rng.randint(20, 200) * 2**20) for n in range(40)]
    weights = [1 / (r + 1) ** 0.8 for r in range(shape.repositories)]
    counts = [max(1, round(shape.tags * w / sum(weights))) for w in weights]
    for r, count in enumerate(counts):
        name = f"team{r % 50:02d}/app{r:05d}"
        registry.repositories.append(name)
        shared = (digest(name, "deps"), rng.randint(5, 80) * 2**20)
        for t in range(count):
            versions = 1 if rng.random() < 0.67 else rng.randint(2, 4)
            start = NOW - timedelta(days=rng.uniform(1, DAYS))
            for v in range(versions):
                own = [(digest(name, t, v, k), rng.randint(1, 50) * 2**20) for k in range(rng.randint(1, 2))]
                config = (digest(name, t, v, "config"), rng.randint(2, 12) * 1024)
                at = start + (NOW - start) * v / versions
                image = Image(
                    name,
                    digest(name, t, v),
                    [config, *rng.sample(bases, rng.randint(1, 2)), shared, *own],
                    at.replace(microsecond=0),
                    f"ci-{r % 50:02d}",
                    "latest" if t == 0 else f"v{t}",
                    tagged=v == versions - 1,
                )
                image.live = image.tagged or rng.random() < 0.6
                registry.images.append(image)
            registry.current.append(registry.images[-1])
    return registry


def inventory(registry: Registry) -> Iterator[Chunk]:
    first: dict[str, datetime] = {}
    for image in registry.images:
        first[image.repository] = min(first.get(image.repository, image.pushed_at), image.pushed_at)
    yield (
        "repositories",
        [
            {
                "name": n,
                "first_seen_at": first[n],
                "last_event_at": NOW,
                "last_pushed_at": NOW,
                "source": "distribution",
            }
            for n in registry.repositories
        ],
    )
    manifests, contents, blobs, history = [], [], [], []
    held: dict[tuple[str, str], int] = {}
    for image in registry.images:
        gone = None if image.live else image.pushed_at + timedelta(days=3)
        manifests.append(
            {
                "repository": image.repository,
                "digest": image.digest,
                "media_type": OCI_MANIFEST,
                "size": image.size,
                "first_pushed_at": image.pushed_at,
                "last_pushed_at": image.pushed_at,
                "pushed_by": image.pushed_by,
                "push_count": 1,
                "deleted_at": gone,
                "deleted_by": "cleanup" if gone else None,
            }
        )
        blobs_size = sum(size for _, size in image.blobs)
        contents.append(
            {
                "digest": image.digest,
                "media_type": OCI_MANIFEST,
                "size": image.size,
                "kind": "image",
                "blobs_size": blobs_size,
                "fetched_at": image.pushed_at,
            }
        )
        for position, (blob, size) in enumerate(image.blobs):
            role, kind = ("config", CONFIG) if position == 0 else ("layer", LAYER)
            blobs.append(
                {
                    "manifest_digest": image.digest,
                    "position": position,
                    "role": role,
                    "digest": blob,
                    "media_type": kind,
                    "size": size,
                }
            )
            held[(image.repository, blob)] = size
        yield from _flush("manifests", manifests)
        yield from _flush("manifest_contents", contents)
        yield from _flush("manifest_blobs", blobs)
    yield from _flush("manifests", manifests, force=True)
    yield from _flush("manifest_contents", contents, force=True)
    yield from _flush("manifest_blobs", blobs, force=True)
    repo_blobs = [
        {
            "repository": repo,
            "digest": blob,
            "media_type": LAYER,
            "size": size,
            "first_seen_at": NOW - timedelta(days=DAYS),
            "last_seen_at": NOW,
            "source": "push",
        }
        for (repo, blob), size in held.items()
    ]
    yield from _chunks("repository_blobs", repo_blobs)
    tags, by_tag = [], defaultdict(list)
    for image in registry.images:
        by_tag[(image.repository, image.tag)].append(image)
    for versions in by_tag.values():
        following: list[Image | None] = [*versions[1:], None]
        for earlier, later in zip(versions, following, strict=True):
            history.append(
                {
                    "repository": earlier.repository,
                    "tag": versions[-1].tag,
                    "digest": earlier.digest,
                    "pushed_at": earlier.pushed_at,
                    "pushed_by": earlier.pushed_by,
                    "replaced_at": later.pushed_at if later else None,
                    "replaced_by": later.pushed_by if later else None,
                }
            )
        top = versions[-1]
        tags.append(
            {
                "repository": top.repository,
                "tag": top.tag,
                "digest": top.digest,
                "updated_at": top.pushed_at,
                "updated_by": top.pushed_by,
            }
        )
    yield from _chunks("tags", tags)
    yield from _chunks("tag_history", history)


def _flush(table: str, rows: list[Row], force: bool = False) -> Iterator[Chunk]:
    if rows and (force or len(rows) >= CHUNK):
        yield table, rows[:]
        rows.clear()


def _chunks(table: str, rows: list[Row]) -> Iterator[Chunk]:
    for start in range(0, len(rows), CHUNK):
        yield table, rows[start : start + CHUNK]
