"""The store-size benchmark (``tests/benchmarks/bench_store_size.py``) kept working: a small
run through the real handlers on both backends stores every event and measures every table."""

from __future__ import annotations

from pathlib import Path

from consumers.store.tables import metadata
from tests.benchmarks.bench_store_size import MIX, measure_postgres, measure_sqlite, per_million, report


async def test_a_small_run_measures_every_table_on_both_backends(
    tmp_path: Path, postgres_admin_url: str
) -> None:
    sqlite = await measure_sqlite(tmp_path, 2000, 0.05, MIX)
    figures = [sqlite, await measure_postgres(1000, 0.05, MIX, postgres_admin_url)]
    for figure, count in zip(figures, (2000, 1000), strict=True):
        assert figure.events == count and set(figure.stored) == {"push", "pull", "other"}
        assert figure.rows["processed_events"] == count, "every event id is kept for deduplication"
        assert set(figure.rows) == {table.name for table in metadata.sorted_tables}
        assert figure.bytes > 0 and figure.written >= figure.bytes
        assert all(figure.tables.get(name, 0) > 0 for name in ("pulls", "processed_events", "audit_log"))
    table = report(figures, 2000, 0.05, MIX)
    assert "| sqlite | 2,000 |" in table and "| postgresql | 1,000 |" in table
    assert per_million(1024, 1000) == 1_024_000
