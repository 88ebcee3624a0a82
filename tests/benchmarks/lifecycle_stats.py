"""The statistics of the year of ``tests.benchmarks.lifecycle_store``: pulls, pushes, the
audit log, storage snapshots, reconcile passes, heartbeats and processed ids.

Pulls come in sessions, the way ``docker pull`` makes them: a manifest HEAD by tag, then (in
seven sessions out of ten) a GET by digest and GETs of the blobs the client does not hold
yet. Each day gets its share of the pull events (weekdays busier than weekends), drawn over
the live tags with Zipf weights, at working hours more than at night, by a client of the
repository's team. A day is summed into its hourly, daily, per-repository, registry-wide and
client rows and handed out at once, so memory stays flat; the last 14 days also give minute
rows.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from tests.benchmarks.lifecycle_store import (
    DAYS,
    MINUTE_DAYS,
    NOW,
    Chunk,
    Image,
    Registry,
    Row,
    Shape,
    _chunks,
    digest,
)

COUNTERS = ("manifest_gets", "manifest_heads", "blob_gets", "blob_heads", "bytes")
HOURS = [1 + 4 * (8 <= h <= 18) for h in range(24)]
USERAGENTS = ("docker/27.3.1 go/go1.22.7", "containerd/v1.7.22", "kubelet/v1.31.1", "skopeo/1.16.1")


def _blank(at: datetime) -> list[Any]:
    return [0, 0, 0, 0, 0, at]


def _add(cell: list[Any], counts: Sequence[int], at: datetime) -> None:
    for i, n in enumerate(counts):
        cell[i] += n
    if at > cell[5]:
        cell[5] = at


class PullYear:
    """Draws the sessions day by day; :meth:`days` yields each day's rows."""

    def __init__(self, registry: Registry, shape: Shape, rng: random.Random) -> None:
        self.rng, self.shape = rng, shape
        self.tags = [image for image in registry.current if image.live]
        order = list(range(len(self.tags)))
        rng.shuffle(order)
        weight = [0.0] * len(order)
        for rank, index in enumerate(order):
            weight[index] = 1 / (rank + 1) ** 1.05
        self.cumulative = list(_accumulate(weight))
        self.clients = {
            team: [
                (f"dev{team:02d}-{k}" if k % 4 else "", f"10.{team}.{k // 8}.{k % 8 + 10}", USERAGENTS[k % 4])
                for k in range(24)
            ]
            for team in range(50)
        }
        self.last: dict[tuple[str, str], list[datetime | None]] = {}
        self.events = 0

    def days(self) -> Iterator[Chunk]:
        today = NOW.replace(hour=0)
        minute_cutoff = (NOW - timedelta(days=MINUTE_DAYS)).replace(second=0)
        factors = [1.2 if (today - timedelta(days=d)).weekday() < 5 else 0.5 for d in range(DAYS)]
        scale = self.shape.pull_events / sum(factors)
        quota = 0.0
        for back in range(DAYS - 1, -1, -1):
            quota += factors[back] * scale
            day = today - timedelta(days=back)
            hours = [h for h in range(24) if day + timedelta(hours=h + 1) <= NOW] or [0]
            yield from self._day(day, hours, round(quota), minute_cutoff)
        yield (
            "pull_last",
            [
                {"repository": r, "reference": ref, "last_get_at": get, "last_head_at": head}
                for (r, ref), (get, head) in self.last.items()
            ],
        )

    def _day(self, day: datetime, hours: list[int], quota: int, minute_cutoff: datetime) -> Iterator[Chunk]:
        hourly: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: _blank(day))
        clients: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: _blank(day))
        minutes: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: _blank(day))
        minute_clients: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: _blank(day))
        weights = [HOURS[h] for h in hours]
        while self.events < quota:
            image = self.rng.choices(self.tags, cum_weights=self.cumulative)[0]
            hour = self.rng.choices(hours, weights)[0]
            at = day + timedelta(hours=hour, seconds=self.rng.randrange(3600))
            team = int(image.repository[4:6])
            client = self.clients[team][min(23, int(self.rng.expovariate(0.25)))]
            hits = self._session(image, at)
            total = [0, 0, 0, 0, 0]
            hour_start, recent = at.replace(minute=0, second=0), at >= minute_cutoff
            for ref, counts in hits:
                _add(hourly[(hour_start, image.repository, ref)], counts, at)
                if recent:
                    _add(minutes[(at.replace(second=0), image.repository, ref)], counts, at)
                for i, n in enumerate(counts):
                    total[i] += n
            self.events += sum(total[:4])
            _add(clients[(day, image.repository, *client)], total, at)
            if at >= minute_cutoff:
                _add(minute_clients[(at.replace(second=0), image.repository, *client)], total, at)
        daily: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: _blank(day))
        repository_hourly: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: _blank(day))
        repository_daily: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: _blank(day))
        total_hourly: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: _blank(day))
        total_daily: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: _blank(day))
        for (hour_start, repository, ref), cell in hourly.items():
            for target in (
                daily[(day, repository, ref)],
                repository_hourly[(hour_start, repository)],
                repository_daily[(day, repository)],
                total_hourly[(hour_start,)],
                total_daily[(day,)],
            ):
                _add(target, tuple(cell[:5]), cell[5])
        reference = ("repository", "reference")
        client_keys = ("repository", "actor", "client_addr", "useragent")
        yield from _rows("pulls_hourly", ("hour", *reference), hourly)
        yield from _rows("pulls_daily", ("day", *reference), daily)
        yield from _rows("pulls_repository_hourly", ("hour", "repository"), repository_hourly)
        yield from _rows("pulls_repository_daily", ("day", "repository"), repository_daily)
        yield from _rows("pulls_total_hourly", ("hour",), total_hourly)
        yield from _rows("pulls_total_daily", ("day",), total_daily)
        yield from _rows("pull_clients_daily", ("day", *client_keys), clients)
        yield from _rows("pulls", ("minute", *reference), minutes)
        yield from _rows("pull_clients", ("minute", *client_keys), minute_clients)

    def _session(self, image: Image, at: datetime) -> list[tuple[str, tuple[int, int, int, int, int]]]:
        hits = [(image.tag, (0, 1, 0, 0, 0))]
        self._seen(image.repository, image.tag, at, head=True)
        if self.rng.random() < 0.7:
            hits.append((image.digest, (1, 0, 0, 0, image.size)))
            self._seen(image.repository, image.digest, at, head=False)
            for blob, size in image.blobs:
                if self.rng.random() < 0.5:
                    hits.append((blob, (0, 0, 1, 0, size)))
        return hits

    def _seen(self, repository: str, reference: str, at: datetime, *, head: bool) -> None:
        last = self.last.setdefault((repository, reference), [None, None])
        last[1 if head else 0] = at


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


def _rows(table: str, keys: tuple[str, ...], cells: dict[tuple[Any, ...], list[Any]]) -> Iterator[Chunk]:
    columns = (*keys, *COUNTERS, "last_pulled_at")
    rows = [dict(zip(columns, (*key, *cell), strict=True)) for key, cell in cells.items()]
    yield from _chunks(table, rows)


def pushes(registry: Registry) -> Iterator[Chunk]:
    cells: dict[tuple[datetime, str, str], list[Any]] = {}
    for image in registry.images:
        minute = image.pushed_at.replace(second=0)
        for kind, count, size in (
            ("manifest", 1, image.size),
            ("blob", len(image.blobs), sum(s for _, s in image.blobs)),
        ):
            cell = cells.setdefault((minute, image.repository, kind), [0, 0, image.pushed_at])
            cell[0], cell[1] = cell[0] + count, cell[1] + size
    rows = [
        {"minute": m, "repository": r, "kind": k, "count": c[0], "bytes": c[1], "last_pushed_at": c[2]}
        for (m, r, k), c in cells.items()
    ]
    yield from _chunks("pushes", rows)


def audit(registry: Registry, shape: Shape, rng: random.Random) -> Iterator[Chunk]:
    kinds = (
        ("delete", "tag"),
        ("delete", "tag"),
        ("delete", "manifest"),
        ("mount", "mount"),
        ("reconcile", "tag_added"),
    )
    rows: list[Row] = []
    for n in range(shape.audit_rows):
        image = registry.images[rng.randrange(len(registry.images))]
        action, kind = kinds[n % len(kinds)]
        at = NOW - timedelta(seconds=rng.randrange(DAYS * 86400))
        rows.append(
            {
                "event_id": f"audit-{n:09d}",
                "occurred_at": at,
                "recorded_at": at,
                "action": action,
                "kind": kind,
                "repository": image.repository,
                "tag": image.tag,
                "digest": image.digest,
                "actor": image.pushed_by,
                "addr": "10.0.0.1",
                "useragent": USERAGENTS[0],
                "method": "DELETE",
                "request_id": f"req-{n}",
                "raw": {"id": f"audit-{n:09d}", "action": action},
            }
        )
    yield from _chunks("audit_log", rows)


def snapshots(registry: Registry) -> Iterator[Chunk]:
    held: dict[str, dict[str, int]] = defaultdict(dict)
    for image in registry.images:
        if image.live:
            held[image.repository].update(image.blobs)
    final = {repo: sum(blobs.values()) for repo, blobs in held.items()}
    everything: dict[str, int] = {}
    for blobs in held.values():
        everything.update(blobs)
    today = NOW.replace(hour=0)
    for back in range(DAYS - 1, -1, -1):
        share, day = 0.5 + 0.5 * (DAYS - back) / DAYS, today - timedelta(days=back)
        rows = [
            {
                "day": day,
                "repository": r,
                "bytes": int(b * share),
                "manifests": 1,
                "blobs": 1,
                "computed_at": day,
            }
            for r, b in final.items()
        ]
        rows.append(
            {
                "day": day,
                "repository": "",
                "bytes": int(sum(everything.values()) * share),
                "manifests": len(registry.images),
                "blobs": len(everything),
                "computed_at": day,
            }
        )
        yield from _chunks("storage_daily", rows)


def housekeeping(shape: Shape) -> Iterator[Chunk]:
    today = NOW.replace(hour=0)
    yield (
        "reconcile_passes",
        [
            {
                "id": f"pass-{d:03d}",
                "trigger": "interval",
                "registry": "http://registry:5000",
                "status": "ok",
                "started_at": today - timedelta(days=d),
                "finished_at": today - timedelta(days=d) + timedelta(minutes=9),
                "repositories": shape.repositories,
                "tags": shape.tags,
                "repairs": {},
                "errors": {},
            }
            for d in range(DAYS)
        ],
    )
    start = NOW - timedelta(days=DAYS)
    yield (
        "pipeline_uptime",
        [
            {"handler": h, "process": "bench:1", "started_at": start, "last_seen_at": NOW}
            for h in ("push", "pull", "other")
        ],
    )
    yield (
        "registry_instances",
        [
            {
                "addr": "registry:5000",
                "instance_id": digest("instance"),
                "first_seen_at": start,
                "last_seen_at": NOW,
                "recorded_at": start,
                "events": shape.pull_events,
            }
        ],
    )
    kept = shape.pull_events * 7 // DAYS
    rows = [
        {
            "handler": "pull",
            "event_id": f"{n:032x}",
            "processed_at": NOW - timedelta(seconds=n * 7 * 86400 // max(1, kept)),
        }
        for n in range(kept)
    ]
    yield from _chunks("processed_events", rows)
