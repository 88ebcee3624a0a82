from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consumers.dashboard.pagination import MAX_LIMIT, PageRequest, page_body
from consumers.dashboard.params import (
    BadQuery,
    Window,
    bucket_starts,
    duration,
    iso,
    step,
    timestamp,
    window,
)

NOW = datetime(2026, 11, 29, 2, 10, 30, tzinfo=UTC)


def fixed() -> datetime:
    return NOW


def test_window_defaults_to_the_range_back_from_now() -> None:
    span = window({"range": "15m"}, fixed)
    assert span == Window(NOW - timedelta(minutes=15), NOW)
    assert window({}, fixed, default_range="6h").since == NOW - timedelta(hours=6)


def test_window_takes_explicit_bounds_and_reads_offsets_as_utc() -> None:
    span = window({"since": "2026-11-29T03:00:00+01:00", "until": "2026-11-29T02:30:00Z"}, fixed)
    assert span.since == datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    assert span.until == datetime(2026, 11, 29, 2, 30, tzinfo=UTC)
    assert timestamp({"t": "2026-11-29T02:00:00"}, "t") == datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"range": "5x"}, "range='5x' is not a duration"),
        ({"range": "0m"}, "range='0m' is not a duration"),
        ({"since": "yesterday"}, "since='yesterday' is not an RFC 3339 time"),
        ({"since": "2026-11-29T03:00:00Z", "until": "2026-11-29T02:00:00Z"}, "must be before"),
    ],
)
def test_bad_windows_name_the_parameter(query: dict[str, str], message: str) -> None:
    with pytest.raises(BadQuery, match=message):
        window(query, fixed)


def test_step_picks_the_finest_that_fits_and_refuses_too_many_buckets() -> None:
    assert step({}, window({"range": "6h"}, fixed)) == "minute"
    assert step({}, window({"range": "7d"}, fixed)) == "hour"
    assert step({}, window({"range": "90d"}, fixed)) == "day"
    with pytest.raises(BadQuery, match="more than 1500 buckets"):
        step({"step": "minute"}, window({"range": "2d"}, fixed))
    with pytest.raises(BadQuery, match="step='week' is not one of minute, hour, day"):
        step({"step": "week"}, window({}, fixed))


def test_buckets_cover_the_window_from_the_floor_of_since() -> None:
    span = Window(datetime(2026, 11, 29, 2, 3, 4, tzinfo=UTC), datetime(2026, 11, 29, 2, 6, 0, tzinfo=UTC))
    assert [b.minute for b in bucket_starts(span, "minute")] == [3, 4, 5]
    assert bucket_starts(span, "hour") == [datetime(2026, 11, 29, 2, 0, tzinfo=UTC)]
    assert duration("7d") == timedelta(days=7)
    assert iso(span.since) == "2026-11-29T02:03:04Z"


def test_pages_fetch_one_extra_row_to_know_about_the_next() -> None:
    page = PageRequest.from_query({"limit": "2", "offset": "4"})
    assert page.fetch == 3
    rows = [{"n": 1}, {"n": 2}, {"n": 3}]
    assert page_body(rows, page) == {
        "items": [{"n": 1}, {"n": 2}],
        "page": {"limit": 2, "offset": 4, "next_offset": 6},
    }
    assert page_body(rows[:2], page)["page"]["next_offset"] is None
    with pytest.raises(BadQuery, match=f"limit=0 must be at least 1 and at most {MAX_LIMIT}"):
        PageRequest.from_query({"limit": "0"})
    with pytest.raises(BadQuery, match="offset='x' is not an integer"):
        PageRequest.from_query({"offset": "x"})
