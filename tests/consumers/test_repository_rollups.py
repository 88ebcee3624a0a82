"""The per-repository pull rollups (store revision 0008) on real SQLite and PostgreSQL:
the pull handler writes into ``pulls_repository_hourly`` and ``pulls_repository_daily``
exactly the sums of ``pulls_hourly`` and ``pulls_daily`` over the reference (across
batches, hours, days and repositories, blobs and HEADs included, the reconcile's own
requests left out), revision 0008 backfills them from a store that already holds
reference rows, and the retention prunes them with the grain they roll up."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, inspect

from common.contract import RECONCILE_USER_AGENT
from consumers.store import migrate
from consumers.store.engine import create_engine
from consumers.store.retention import EXPIRING
from consumers.store.tables import PULL_COUNTERS, pulls_daily, pulls_hourly
from tests.consumers.lifecycle.events import BLOB, apply, pull
from tests.support.database import read_table

T0 = datetime(2026, 11, 30, 23, 50)
X, Y, L = "sha256:" + "1" * 64, "sha256:" + "2" * 64, "sha256:" + "b" * 64
SUMMED = ("manifest_gets", "manifest_heads", "blob_gets", "blob_heads", "bytes")


def summed_out(rows: list[dict[str, Any]], bucket: str) -> dict[tuple[Any, str], dict[str, Any]]:
    """Reference rows summed over the reference: (bucket, repository) → counters, last pull."""
    found: dict[tuple[Any, str], dict[str, Any]] = defaultdict(lambda: dict.fromkeys(SUMMED, 0))
    for row in rows:
        cell = found[row[bucket], row["repository"]]
        for name in SUMMED:
            cell[name] += int(row[name])
        cell["last_pulled_at"] = max(cell.get("last_pulled_at", row["last_pulled_at"]), row["last_pulled_at"])
    return dict(found)


def keyed(rows: list[dict[str, Any]], bucket: str) -> dict[tuple[Any, str], dict[str, Any]]:
    return {
        (r[bucket], r["repository"]): {
            **{n: int(r[n]) for n in SUMMED},
            "last_pulled_at": r["last_pulled_at"],
        }
        for r in rows
    }


async def test_the_handler_writes_the_reference_rollups_summed_per_repository(store_url: str) -> None:
    first = [
        pull(T0, "team/a", X, "1.0", method="HEAD"),
        pull(T0, "team/a", X, "1.0"),
        pull(T0 + timedelta(minutes=3), "team/a", Y),  # by digest
        pull(T0 + timedelta(minutes=4), "team/a", L, mediaType=BLOB, size=700),
        pull(T0 + timedelta(minutes=5), "team/b", X, "2.0"),
        pull(T0 + timedelta(minutes=9), "team/a", X, useragent=RECONCILE_USER_AGENT),  # not counted
    ]
    await apply(store_url, first)
    # a later batch: the same hour again (added to), the next hour and the next day
    second = [
        pull(T0 + timedelta(minutes=1), "team/a", X, "1.0"),
        pull(T0 + timedelta(minutes=15), "team/a", L, mediaType=BLOB, size=700, method="HEAD"),
        pull(T0 + timedelta(hours=5), "team/b", Y),
    ]
    await apply(store_url, second)
    hourly = keyed(await read_table(store_url, "pulls_repository_hourly"), "hour")
    daily = keyed(await read_table(store_url, "pulls_repository_daily"), "day")
    assert hourly == summed_out(await read_table(store_url, "pulls_hourly"), "hour")
    assert daily == summed_out(await read_table(store_url, "pulls_daily"), "day")
    a = daily[datetime(2026, 11, 30), "team/a"]
    assert (a["manifest_gets"], a["manifest_heads"], a["blob_gets"], a["blob_heads"]) == (3, 1, 1, 0)
    assert a["last_pulled_at"] == T0 + timedelta(minutes=4)  # the HEAD at 0:05 is the next day
    assert set(hourly) == {
        (datetime(2026, 11, 30, 23), "team/a"),
        (datetime(2026, 11, 30, 23), "team/b"),
        (datetime(2026, 12, 1, 0), "team/a"),
        (datetime(2026, 12, 1, 4), "team/b"),
    }


def _reference_row(
    bucket: str, at: datetime, repository: str, reference: str, **counts: int
) -> dict[str, Any]:
    zero = dict.fromkeys(PULL_COUNTERS, 0)
    return {
        bucket: at,
        "repository": repository,
        "reference": reference,
        "last_pulled_at": at,
        **zero,
        **counts,
    }


DAY = datetime(2026, 11, 20)
HOURLY = [
    _reference_row("hour", DAY + timedelta(hours=8), "team/a", "1.0", manifest_heads=2),
    _reference_row("hour", DAY + timedelta(hours=8), "team/a", X, manifest_gets=2, bytes=900),
    _reference_row("hour", DAY + timedelta(hours=9), "team/a", L, blob_gets=4, bytes=4000),
    _reference_row("hour", DAY + timedelta(hours=8), "team/b", "", manifest_gets=1),
]
DAILY = [
    _reference_row("day", DAY, "team/a", "1.0", manifest_heads=2),
    _reference_row("day", DAY, "team/a", X, manifest_gets=2, bytes=900),
    _reference_row("day", DAY, "team/a", L, blob_gets=4, bytes=4000),
    _reference_row("day", DAY, "team/b", "", manifest_gets=1),
    _reference_row("day", DAY - timedelta(days=400), "team/a", X, manifest_gets=7),  # older than the hours
]


async def test_0008_adds_the_tables_and_backfills_them_from_the_reference_rollups(
    empty_store_url: str,
) -> None:
    engine = create_engine(empty_store_url, writer=True)
    try:
        await migrate.upgrade(engine, "0007")
        async with engine.begin() as connection:
            await connection.execute(insert(pulls_hourly), HOURLY)
            await connection.execute(insert(pulls_daily), DAILY)
            before = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        await migrate.upgrade(engine, "0008")
        async with engine.connect() as connection:
            after = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        assert after - before == {"pulls_repository_hourly", "pulls_repository_daily"}
        assert await migrate.current_revision(engine) == "0008"
    finally:
        await engine.dispose()
    hourly = keyed(await read_table(empty_store_url, "pulls_repository_hourly"), "hour")
    daily = keyed(await read_table(empty_store_url, "pulls_repository_daily"), "day")
    assert hourly == summed_out(HOURLY, "hour")
    assert daily == summed_out(DAILY, "day")
    assert daily[DAY, "team/a"] == {
        "manifest_gets": 2,
        "manifest_heads": 2,
        "blob_gets": 4,
        "blob_heads": 0,
        "bytes": 4900,
        "last_pulled_at": DAY,
    }
    assert len(hourly) == 3 and len(daily) == 3
    assert len(await read_table(empty_store_url, "pulls_daily")) == len(DAILY)  # the source stays


def test_the_retention_prunes_them_with_the_grain_they_roll_up() -> None:
    grains = {expiry.table.name: expiry.grain for expiry in EXPIRING["pull"]}
    assert grains["pulls_repository_hourly"] == grains["pulls_hourly"] == "hour"
    assert grains["pulls_repository_daily"] == grains["pulls_daily"] == "day"
