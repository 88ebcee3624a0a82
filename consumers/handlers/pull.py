"""``pull``: pull statistics. Reads ``<prefix>.pull``.

Every pull event adds to two per-minute buckets (the minute of the event's timestamp):

* ``pulls`` (minute, repository, reference): the reference is the tag when the pull
  named one, else the digest. Docker and containerd resolve a tag with a HEAD by tag,
  then GET by digest, so one image pull usually shows as a HEAD on the tag plus GETs on
  digests;
* ``pull_clients`` (minute, repository, actor, client address, user agent);
* rollups of the same counts: ``pulls_hourly``, ``pulls_daily``, the per-repository
  ``pulls_repository_hourly`` and ``pulls_repository_daily`` (the reference summed out), the
  registry-wide ``pulls_total_hourly`` and ``pulls_total_daily`` and ``pull_clients_daily``,
  summed from the batch's minute rows.

Counters: manifest vs blob pulls (blob events carry ``application/octet-stream``), GET
apart from HEAD (the registry counts HEAD as a pull), and ``bytes``: the target size of
every GET (a HEAD serves no body; a ranged GET is counted at full size, the event does
not say the range). The client address drops its ephemeral port.

A batch is summed per bucket in memory and written with one additive upsert per table.

Every counted manifest pull also moves ``pull_last`` (the latest GET and HEAD per
reference, :mod:`consumers.store.pull_last`): the row of its tag and the row of its digest,
each when the event names it (distribution's pull by tag names both). A pull by a user
agent matching ``REGBRIDGE_LIFECYCLE_IGNORE_USERAGENTS`` (scanners, replication) still
counts in every statistic above, but does not move ``pull_last``.

The reconcile's own requests (its HEADs and GETs, user agent
``registry-kafka-bridge-reconcile/…``) and ``cleanup apply``'s re-checks
(``registry-kafka-bridge-cleanup/…``) are pull events too; they are not load, so they
are planned with ``counted=False`` and add to no statistic.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from common.contract import made_by_cleanup, made_by_reconcile
from consumers.handlers.base import (
    Delivery,
    HandlerError,
    HandlerOptions,
    client_host,
    day_of,
    hour_of,
    minute_of,
    text_key,
)
from consumers.store.pull_last import last_rows, touch_last_pulls
from consumers.store.tables import (
    CLIENT_COLUMNS,
    PULL_COUNTERS,
    pull_clients,
    pull_clients_daily,
    pulls,
    pulls_daily,
    pulls_hourly,
    pulls_repository_daily,
    pulls_repository_hourly,
    pulls_total_daily,
    pulls_total_hourly,
)
from consumers.store.writes import execute_many, insert_for, later


@dataclass(frozen=True, slots=True)
class PullPlan:
    minute: datetime
    at: datetime
    repository: str
    reference: str
    counter: str  # manifest_gets, manifest_heads, blob_gets or blob_heads
    bytes: int
    actor: str
    client_addr: str
    useragent: str
    counted: bool = True  # False for the reconcile's own requests
    tag: str = ""  # the event's tag and digest ('' when absent), for pull_last
    digest: str = ""
    moves_last: bool = True  # False for an ignored user agent (and for blobs)


_COUNTERS = {
    (True, True): "manifest_heads",
    (True, False): "manifest_gets",
    (False, True): "blob_heads",
    (False, False): "blob_gets",
}
REFERENCE_KEY = ("minute", "repository", "reference")
CLIENT_KEY = ("minute", *CLIENT_COLUMNS)
REPOSITORY_KEY = ("minute", "repository")  # the reference rows, their reference summed out
TOTAL_KEY = ("minute",)  # the reference rows, all summed per bucket
ROLLUPS = (
    # (table, its key, the minute rows it sums (by their columns), how a minute maps to its bucket)
    (pulls_hourly, ("hour", *REFERENCE_KEY[1:]), REFERENCE_KEY, hour_of),
    (pulls_daily, ("day", *REFERENCE_KEY[1:]), REFERENCE_KEY, day_of),
    (pulls_repository_hourly, ("hour", "repository"), REPOSITORY_KEY, hour_of),
    (pulls_repository_daily, ("day", "repository"), REPOSITORY_KEY, day_of),
    (pulls_total_hourly, ("hour",), TOTAL_KEY, hour_of),
    (pulls_total_daily, ("day",), TOTAL_KEY, day_of),
    (pull_clients_daily, ("day", *CLIENT_COLUMNS), CLIENT_KEY, day_of),
)


def useragent_matcher(globs: Sequence[str]) -> Callable[[str], bool]:
    """True for a user agent one of the fnmatch ``globs`` matches, case-insensitively."""
    if not globs:
        return lambda _useragent: False
    pattern = re.compile("|".join(fnmatch.translate(glob) for glob in globs), re.IGNORECASE)
    return lambda useragent: pattern.match(useragent) is not None


class PullHandler:
    name = "pull"

    def __init__(self, options: HandlerOptions | None = None) -> None:
        self.ignored = useragent_matcher((options or HandlerOptions()).ignore_useragents)

    def plan(self, delivery: Delivery) -> PullPlan:
        event = delivery.event
        if event.action != "pull":
            raise HandlerError(f"the pull handler got a {event.action!r} event")
        head = event.method is not None and event.method.upper() == "HEAD"
        useragent = text_key(event.useragent)
        return PullPlan(
            minute=minute_of(delivery.occurred_at),
            at=delivery.occurred_at,
            repository=event.repository,
            reference=text_key(event.reference),
            counter=_COUNTERS[event.is_manifest, head],
            bytes=0 if head else (event.size or 0),
            actor=text_key(event.actor),
            client_addr=client_host(event.addr),
            useragent=useragent,
            counted=not (made_by_reconcile(event) or made_by_cleanup(event)),
            tag=text_key(event.tag),
            digest=text_key(event.digest),
            moves_last=event.is_manifest and not self.ignored(useragent),
        )

    async def apply(self, plans: Sequence[PullPlan], connection: AsyncConnection) -> None:
        plans = [plan for plan in plans if plan.counted]
        by_reference = sum_buckets(plans, REFERENCE_KEY, lambda p: (p.minute, p.repository, p.reference))
        by_client = sum_buckets(
            plans, CLIENT_KEY, lambda p: (p.minute, p.repository, p.actor, p.client_addr, p.useragent)
        )
        await _add(connection, pulls, REFERENCE_KEY, by_reference)
        await _add(connection, pull_clients, CLIENT_KEY, by_client)
        minute_rows: dict[tuple[str, ...], list[dict[str, Any]]] = {CLIENT_KEY: by_client}
        minute_rows.update(dict.fromkeys((REFERENCE_KEY, REPOSITORY_KEY, TOTAL_KEY), by_reference))
        for table, key, source, bucket_of in ROLLUPS:
            await _add(connection, table, key, roll_up(minute_rows[source], source, key, bucket_of))
        await touch_last_pulls(connection, last_rows(last_pulls(plans)))


def last_pulls(plans: Sequence[PullPlan]) -> list[tuple[str, str, bool, datetime]]:
    """(repository, reference, head, at) for ``pull_last``: the tag and the digest of every
    counted manifest pull by a user agent that is not ignored."""
    found: list[tuple[str, str, bool, datetime]] = []
    for plan in plans:
        if plan.moves_last:
            head = plan.counter == "manifest_heads"
            found.extend((plan.repository, ref, head, plan.at) for ref in (plan.tag, plan.digest) if ref)
    return found


def sum_buckets(
    plans: Sequence[PullPlan], columns: tuple[str, ...], key: Callable[[PullPlan], tuple[Any, ...]]
) -> list[dict[str, Any]]:
    """One row per bucket (``columns`` are the values ``key`` returns), counters summed."""
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for plan in plans:
        bucket = key(plan)
        row = rows.get(bucket)
        if row is None:
            row = rows[bucket] = dict(zip(columns, bucket, strict=True))
            row.update(dict.fromkeys(PULL_COUNTERS, 0), last_pulled_at=plan.at)
        row[plan.counter] += 1
        row["bytes"] += plan.bytes
        if plan.at > row["last_pulled_at"]:
            row["last_pulled_at"] = plan.at
    return list(rows.values())


def roll_up(
    rows: Sequence[dict[str, Any]],
    fine: tuple[str, ...],
    coarse: tuple[str, ...],
    bucket_of: Callable[[datetime], datetime],
) -> list[dict[str, Any]]:
    """Minute rows summed into coarser buckets (cheap: it works on rows, not events)."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        bucket = (bucket_of(row[fine[0]]), *(row[column] for column in fine[1:]))
        target = out.get(bucket)
        if target is None:
            out[bucket] = dict(zip(coarse, bucket, strict=True)) | {
                name: row[name] for name in (*PULL_COUNTERS, "last_pulled_at")
            }
            continue
        for name in PULL_COUNTERS:
            target[name] += row[name]
        target["last_pulled_at"] = max(target["last_pulled_at"], row["last_pulled_at"])
    return list(out.values())


async def _add(
    connection: AsyncConnection, table: Table, keys: tuple[str, ...], rows: list[dict[str, Any]]
) -> None:
    if not rows:
        return
    statement = insert_for(connection, table)
    new, old = statement.excluded, table.c
    updates: dict[str, Any] = {name: old[name] + new[name] for name in PULL_COUNTERS}
    updates["last_pulled_at"] = later(new.last_pulled_at, old.last_pulled_at)
    statement = statement.on_conflict_do_update(index_elements=list(keys), set_=updates)
    await execute_many(connection, statement, rows)
