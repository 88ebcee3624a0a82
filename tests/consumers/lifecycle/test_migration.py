"""Revision 0007 on a store at 0006 that holds data (SQLite and PostgreSQL): the three tables
are new, the rows already there stay, ``tag_history`` starts with one open period per live
tag and ``pull_last`` is filled from the ``pulls_daily`` manifest rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, inspect, select

from consumers.store import migrate
from consumers.store.engine import create_engine
from consumers.store.tables import PULL_COUNTERS, pulls_daily, tags
from tests.support.database import read_table

REPO = "team/a"
X, BLOB = "sha256:" + "1" * 64, "sha256:" + "b" * 64
DAY1, DAY2 = datetime(2026, 11, 20), datetime(2026, 11, 21)


def _daily(day: datetime, reference: str, last: datetime, **counts: int) -> dict[str, Any]:
    zero = dict.fromkeys(PULL_COUNTERS, 0)
    return {"day": day, "repository": REPO, "reference": reference, "last_pulled_at": last, **zero, **counts}


TAGS: list[dict[str, Any]] = [
    {
        "repository": REPO,
        "tag": "1.0",
        "digest": X,
        "updated_at": datetime(2026, 11, 1, 8),
        "updated_by": "alice",
    },
    {
        "repository": REPO,
        "tag": "old",
        "digest": X,
        "updated_at": datetime(2026, 11, 2),
        "deleted_at": datetime(2026, 11, 3),
    },
    {
        "repository": REPO,
        "tag": "gone",
        "digest": None,
        "updated_at": datetime(2026, 11, 4),
        "deleted_at": datetime(2026, 11, 4),
    },
]
DAILY = [
    _daily(DAY1, "1.0", datetime(2026, 11, 20, 9), manifest_gets=2),
    _daily(DAY2, "1.0", datetime(2026, 11, 21, 7), manifest_heads=1),
    _daily(DAY2, X, datetime(2026, 11, 21, 6), manifest_gets=1, blob_gets=3),
    _daily(DAY2, BLOB, datetime(2026, 11, 21, 23), blob_gets=5),  # blobs only: no row
    _daily(DAY2, "", datetime(2026, 11, 21, 5), manifest_gets=1),  # neither tag nor digest: no row
]


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_0007_adds_three_tables_and_backfills_from_tags_and_daily_pulls(empty_store_url: str) -> None:
    engine = create_engine(empty_store_url, writer=True)
    try:
        await migrate.upgrade(engine, "0006")
        async with engine.begin() as connection:
            for row in TAGS:
                await connection.execute(insert(tags).values(**row))
            await connection.execute(insert(pulls_daily), DAILY)
            before = await connection.run_sync(_tables)
        await migrate.upgrade(engine, "0007")
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) - before == {
                "tag_history",
                "pull_last",
                "storage_daily",
            }
            assert len((await connection.execute(select(pulls_daily))).all()) == len(DAILY)
        assert await migrate.current_revision(engine) == "0007"
    finally:
        await engine.dispose()
    history = await read_table(empty_store_url, "tag_history")
    assert [(r["tag"], r["digest"], r["pushed_at"], r["pushed_by"], r["replaced_at"]) for r in history] == [
        ("1.0", X, datetime(2026, 11, 1, 8), "alice", None)  # the live tag only, from its updated_at
    ]
    last = {
        r["reference"]: (r["last_get_at"], r["last_head_at"])
        for r in await read_table(empty_store_url, "pull_last")
    }
    # the day rows' last_pulled_at: GET on Nov 20 (9:00), HEAD on Nov 21 (7:00); X by digest
    assert last == {
        "1.0": (datetime(2026, 11, 20, 9), datetime(2026, 11, 21, 7)),
        X: (datetime(2026, 11, 21, 6), None),
    }
    assert await read_table(empty_store_url, "storage_daily") == []
