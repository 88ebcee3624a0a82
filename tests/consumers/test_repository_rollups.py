"""The pull rollups without the reference (store revision 0008) on real SQLite and
PostgreSQL: the pull handler writes into ``pulls_repository_hourly``/``_daily`` exactly the
sums of ``pulls_hourly``/``pulls_daily`` over the reference, and into
``pulls_total_hourly``/``_daily`` their sums over the reference and the repository (across
batches, hours, days and repositories, blobs and HEADs included, the reconcile's own
requests left out); revision 0008 backfills them from a store that already holds reference
rows, and the retention prunes them with the grain they roll up."""

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


def summed_out(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Rows summed over all but ``keys``: ``keys`` → counters, last pull."""
    found: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(lambda: dict.fromkeys(SUMMED, 0))
    for row in rows:
        cell = found[tuple(row[k] for k in keys)]
        for name in SUMMED:
            cell[name] += int(row[name])
        cell["last_pulled_at"] = max(cell.get("last_pulled_at", row["last_pulled_at"]), row["last_pulled_at"])
    return dict(found)


def keyed(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """A rollup's rows by their keys."""
    return {
        tuple(r[k] for k in keys): {**{n: int(r[n]) for n in SUMMED}, "last_pulled_at": r["last_pulled_at"]}
        for r in rows
    }


ROLLED = (
    # (the table, its keys, the reference-level rollup it sums)
    ("pulls_repository_hourly", ("hour", "repository"), "pulls_hourly"),
    ("pulls_repository_daily", ("day", "repository"), "pulls_daily"),
    ("pulls_total_hourly", ("hour",), "pulls_hourly"),
    ("pulls_total_daily", ("day",), "pulls_daily"),
)


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
    for name, keys, source in ROLLED:
        rolled = keyed(await read_table(store_url, name), *keys)
        assert rolled == summed_out(await read_table(store_url, source), *keys), name
    hourly = keyed(await read_table(store_url, "pulls_repository_hourly"), "hour", "repository")
    daily = keyed(await read_table(store_url, "pulls_repository_daily"), "day", "repository")
    a = daily[datetime(2026, 11, 30), "team/a"]
    assert (a["manifest_gets"], a["manifest_heads"], a["blob_gets"], a["blob_heads"]) == (3, 1, 1, 0)
    assert a["last_pulled_at"] == T0 + timedelta(minutes=4)  # the HEAD at 0:05 is the next day
    assert set(hourly) == {
        (datetime(2026, 11, 30, 23), "team/a"),
        (datetime(2026, 11, 30, 23), "team/b"),
        (datetime(2026, 12, 1, 0), "team/a"),
        (datetime(2026, 12, 1, 4), "team/b"),
    }
    total = keyed(await read_table(store_url, "pulls_total_daily"), "day")[(datetime(2026, 11, 30),)]
    assert (total["manifest_gets"], total["manifest_heads"], total["last_pulled_at"]) == (
        4,
        1,
        T0 + timedelta(minutes=5),
    )


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
        assert after - before == {name for name, _, _ in ROLLED}
        assert await migrate.current_revision(engine) == "0008"
    finally:
        await engine.dispose()
    for name, keys, _ in ROLLED:
        source = HOURLY if keys[0] == "hour" else DAILY
        assert keyed(await read_table(empty_store_url, name), *keys) == summed_out(source, *keys), name
    hourly = keyed(await read_table(empty_store_url, "pulls_repository_hourly"), "hour", "repository")
    daily = keyed(await read_table(empty_store_url, "pulls_repository_daily"), "day", "repository")
    assert daily[DAY, "team/a"] == {
        "manifest_gets": 2,
        "manifest_heads": 2,
        "blob_gets": 4,
        "blob_heads": 0,
        "bytes": 4900,
        "last_pulled_at": DAY,
    }
    assert len(hourly) == 3 and len(daily) == 3
    total = keyed(await read_table(empty_store_url, "pulls_total_daily"), "day")
    assert {day: cell["manifest_gets"] for (day,), cell in total.items()} == {
        DAY: 3,
        DAY - timedelta(days=400): 7,
    }
    assert len(await read_table(empty_store_url, "pulls_daily")) == len(DAILY)  # the source stays


def test_the_retention_prunes_them_with_the_grain_they_roll_up() -> None:
    grains = {expiry.table.name: expiry.grain for expiry in EXPIRING["pull"]}
    assert grains["pulls_repository_hourly"] == grains["pulls_hourly"] == "hour"
    assert grains["pulls_repository_daily"] == grains["pulls_daily"] == "day"
    assert (grains["pulls_total_hourly"], grains["pulls_total_daily"]) == ("hour", "day")
