"""The retention of the statistics on real SQLite and PostgreSQL stores: each consumer's
pruner drops exactly the expired buckets of the tables it writes (the bucket at the cutoff
stays), in bounded batches, keeps forever what is set to 0, and counts what it dropped;
and the settings refuse a rollup kept shorter than the finer table it replaces."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from common.environ import ConfigError, Environ
from consumers.lifecycle.facts import WINDOWS
from consumers.metrics import ConsumerMetrics
from consumers.runner.pruning import StatisticsPruner
from consumers.runner.stop import StopRequest
from consumers.store.engine import create_engine
from consumers.store.retention import DAILY_MINIMUM_DAYS, EXPIRING, Expiry, RetentionSettings, floor, prune
from consumers.store.tables import audit_log

NOW = datetime(2026, 11, 29, 12, 30, 45)
SETTINGS = RetentionSettings(minute_days=14, hourly_days=400, daily_days=800, audit_days=30)
STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
EVERY = [expiry for expiries in EXPIRING.values() for expiry in expiries]


@pytest.fixture
async def engine(store_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(store_url, writer=True)
    try:
        yield engine
    finally:
        await engine.dispose()


def row(table: Table, at: datetime, n: int) -> dict[str, Any]:
    """A row of ``table`` whose time is ``at``; ``n`` keeps the keys apart."""
    if table is audit_log:
        fields = {"action": "delete", "kind": "tag", "repository": f"r{n}", "raw": {}}
        return fields | {"event_id": f"e{n}-{at.isoformat()}", "occurred_at": at, "recorded_at": at}
    found: dict[str, Any] = {}
    for column in table.columns:
        if column.primary_key:
            found[column.name] = at if column is next(iter(table.primary_key.columns)) else f"k{n}"
        elif column.name.startswith("last_"):
            found[column.name] = at
    return found


async def fill(engine: AsyncEngine, expiry: Expiry, times: list[datetime]) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(expiry.table), [row(expiry.table, at, n) for n, at in enumerate(times)])


async def times_left(engine: AsyncEngine, expiry: Expiry) -> list[datetime]:
    async with engine.connect() as conn:
        found = (await conn.execute(select(expiry.column).order_by(expiry.column))).scalars()
        return [datetime.fromisoformat(str(t)) if not isinstance(t, datetime) else t for t in found]


def around(expiry: Expiry) -> tuple[datetime, list[datetime], list[datetime]]:
    """The cutoff, three times before it (expired) and the cutoff plus two after (kept)."""
    cutoff = expiry.cutoff(SETTINGS, NOW)
    assert cutoff is not None
    step = STEP.get(expiry.grain, timedelta(seconds=1))
    return cutoff, [cutoff - 3 * step, cutoff - 2 * step, cutoff - step], [cutoff, cutoff + step, NOW]


async def test_each_handler_prunes_exactly_the_expired_buckets_of_its_tables(engine: AsyncEngine) -> None:
    for expiry in EVERY:
        _, expired, kept = around(expiry)
        await fill(engine, expiry, expired + kept)
    metrics = {handler: ConsumerMetrics(handler) for handler in EXPIRING}
    for handler in EXPIRING:
        pruner = StatisticsPruner(handler, engine, SETTINGS, metrics[handler], clock=lambda: NOW)
        done = await pruner.prune_all()
        assert [p.table for p in done] == [e.table.name for e in EXPIRING[handler]]
        assert all(p.rows == 3 for p in done)
    for expiry in EVERY:
        assert await times_left(engine, expiry) == around(expiry)[2], expiry.table.name
    pulled = metrics["pull"].registry.get_sample_value(
        "regbridge_consumer_pruned_rows_total", {"handler": "pull", "table": "pull_clients"}
    )
    audited = metrics["other"].registry.get_sample_value(
        "regbridge_consumer_pruned_rows_total", {"handler": "other", "table": "audit_log"}
    )
    seconds = metrics["push"].registry.get_sample_value(
        "regbridge_consumer_prune_seconds", {"handler": "push", "table": "pushes"}
    )
    assert (pulled, audited) == (3.0, 3.0) and seconds is not None and seconds > 0


async def test_the_cutoff_is_the_start_of_the_bucket_holding_now_minus_the_retention() -> None:
    minute, hourly, daily = (Expiry(e.table, e.grain) for e in EXPIRING["pull"][1:4])
    assert minute.cutoff(SETTINGS, NOW) == datetime(2026, 11, 15, 12, 30)
    assert hourly.cutoff(SETTINGS, NOW) == datetime(2025, 10, 25, 12, 0)
    assert daily.cutoff(SETTINGS, NOW) == floor(NOW - timedelta(days=800), "day")
    assert Expiry(audit_log, "audit").cutoff(SETTINGS, NOW) == NOW - timedelta(days=30)


async def test_pruning_runs_in_batches_and_stops_at_the_first_short_one(engine: AsyncEngine) -> None:
    expiry = EXPIRING["pull"][0]
    cutoff, _, _ = around(expiry)
    expired = [cutoff - timedelta(minutes=m) for m in range(1, 11)]
    await fill(engine, expiry, [*expired, cutoff])
    pauses: list[int] = []

    async def pause(seconds: float) -> None:
        assert seconds > 0
        pauses.append(len(await times_left(engine, expiry)))  # each batch committed before the next

    pruned = await prune(engine, expiry, cutoff, 3, pause=pause)
    assert (pruned.rows, pruned.batches) == (10, 4)
    assert pauses == [8, 5, 2]  # the oldest go first, three per transaction
    assert await times_left(engine, expiry) == [cutoff]
    again = await prune(engine, expiry, cutoff, 3)
    assert (again.rows, again.batches) == (0, 1)


async def test_zero_keeps_forever(engine: AsyncEngine) -> None:
    forever = RetentionSettings(minute_days=0, hourly_days=0, daily_days=0, audit_days=0)
    ancient = [datetime(2001, 1, 1), datetime(2010, 6, 1)]
    for expiry in EVERY:
        await fill(engine, expiry, ancient)
    for handler in EXPIRING:
        pruner = StatisticsPruner(handler, engine, forever, ConsumerMetrics(handler), clock=lambda: NOW)
        assert await pruner.prune_all() == []
        await pruner.run(StopRequest())  # returns at once: nothing of this handler expires
    for expiry in EVERY:
        assert await times_left(engine, expiry) == ancient


async def test_the_pruner_task_prunes_at_start_and_ends_on_stop(engine: AsyncEngine) -> None:
    expiry = EXPIRING["push"][0]
    _, expired, kept = around(expiry)
    await fill(engine, expiry, expired + kept)
    metrics, stop = ConsumerMetrics("push"), StopRequest()
    pruner = StatisticsPruner("push", engine, SETTINGS, metrics, clock=lambda: NOW)
    task = asyncio.create_task(pruner.run(stop))
    labels = {"handler": "push", "table": "pushes"}
    for _ in range(200):  # bounded: 10 s
        if metrics.registry.get_sample_value("regbridge_consumer_pruned_rows_total", labels):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert await times_left(engine, expiry) == kept


async def test_a_store_that_fails_is_logged_and_the_other_tables_still_pruned(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE pulls_hourly")
    daily = EXPIRING["pull"][3]
    _, expired, kept = around(daily)
    await fill(engine, daily, expired + kept)
    pruner = StatisticsPruner("pull", engine, SETTINGS, ConsumerMetrics("pull"), clock=lambda: NOW)
    done = await pruner.prune_all()
    assert "pulls_hourly" not in [p.table for p in done] and "pulls_daily" in [p.table for p in done]
    assert await times_left(engine, daily) == kept
    warned = [str(getattr(r, "fields", "")) for r in caplog.records if r.levelname == "WARNING"]
    assert any("pulls_hourly" in fields for fields in warned)


def test_the_daily_rollups_cover_the_lifecycle_facts_windows() -> None:
    assert max(WINDOWS) <= DAILY_MINIMUM_DAYS
    RetentionSettings(minute_days=1, hourly_days=2, daily_days=DAILY_MINIMUM_DAYS).check()


def test_defaults_and_variables() -> None:
    assert RetentionSettings.from_environ(Environ({})) == RetentionSettings(14, 400, 0, 0, 5000, 600.0)
    env = {
        "REGBRIDGE_RETENTION_MINUTE_DAYS": "7",
        "REGBRIDGE_RETENTION_HOURLY_DAYS": "0",
        "REGBRIDGE_RETENTION_DAILY_DAYS": "0",
        "REGBRIDGE_RETENTION_AUDIT_DAYS": "365",
        "REGBRIDGE_RETENTION_BATCH_ROWS": "100",
        "REGBRIDGE_RETENTION_INTERVAL_SECONDS": "60",
    }
    assert RetentionSettings.from_environ(Environ(env)) == RetentionSettings(7, 0, 0, 365, 100, 60.0)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MINUTE_DAYS": "30", "HOURLY_DAYS": "20"}, ("HOURLY_DAYS=20", "MINUTE_DAYS=30")),
        ({"MINUTE_DAYS": "0"}, ("HOURLY_DAYS=400", "MINUTE_DAYS=0")),
        ({"DAILY_DAYS": "100"}, ("DAILY_DAYS=100", "HOURLY_DAYS=400")),
        (
            {"MINUTE_DAYS": "7", "HOURLY_DAYS": "30", "DAILY_DAYS": "60"},
            ("DAILY_DAYS=60 must be 0 (forever) or at least 90",),
        ),
        ({"HOURLY_DAYS": "0", "DAILY_DAYS": "3000"}, ("DAILY_DAYS=3000", "HOURLY_DAYS=0")),
        ({"MINUTE_DAYS": "-1"}, ("MINUTE_DAYS=-1 must be at least 0",)),
        ({"AUDIT_DAYS": "a year"}, ("AUDIT_DAYS='a year' is not an integer",)),
        ({"BATCH_ROWS": "0"}, ("BATCH_ROWS=0 must be at least 1",)),
    ],
)
def test_a_rollup_kept_shorter_than_its_finer_table_is_a_config_error(
    env: dict[str, str], named: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError) as caught:
        RetentionSettings.from_environ(Environ({f"REGBRIDGE_RETENTION_{k}": v for k, v in env.items()}))
    for part in named:
        assert part in str(caught.value)


async def test_the_oldest_rows_go_first_whatever_the_key(engine: AsyncEngine) -> None:
    """Keys that sort before the old rows' keys do not make a batch skip old rows."""
    expiry = EXPIRING["pull"][1]
    cutoff, _, _ = around(expiry)
    async with engine.begin() as conn:
        rows = [row(expiry.table, cutoff - timedelta(minutes=m), 0) for m in (1, 2)]
        rows += [row(expiry.table, cutoff + timedelta(minutes=1), n) for n in range(5)]
        await conn.execute(insert(expiry.table), rows)
    await prune(engine, expiry, cutoff, 1)
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(expiry.table))).scalar_one() == 5
