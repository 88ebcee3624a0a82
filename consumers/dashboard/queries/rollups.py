"""Which pull table answers a window: the minute buckets, or the hourly or daily rollups.

The pull handler writes every pull into all of them in one transaction, and the retention
(:mod:`consumers.store.retention`, ``REGBRIDGE_RETENTION_*``) drops the minute rows after
14 days and the hourly ones after 400 by default. A window reads:

* the minute tables when it is at most :data:`MINUTE_SPAN` long and the minute rows still
  cover its start;
* ``pulls_hourly`` when it is at most :data:`HOUR_SPAN` long (the longest window whose
  default step is the hour) and the hourly rows still cover its start; the clients,
  which have no hourly rollup, then read ``pull_clients_daily``;
* the daily rollups otherwise.

At the hour and day grains each has a per-repository twin (``pulls_repository_hourly``,
``pulls_repository_daily``) that answers whatever does not need the reference
(``pulls.PullFilter.repositories``).

The spans are fixed, for speed (a long window sums few rows); the coverage comes from the
same retention settings the consumers prune with (the dashboard reads them too), so a
window never reads a table whose rows for it are gone. A rollup counts a bucket when the
bucket starts within the window: at its edges a window read from ``pulls_hourly`` is
precise to the hour, from the daily rollups to the day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from consumers.dashboard.params import MAX_BUCKETS, Window, as_utc
from consumers.store.retention import RetentionSettings

MINUTE_SPAN = timedelta(days=2)
HOUR_SPAN = timedelta(hours=MAX_BUCKETS)
GRAINS = ("minute", "hour", "day")


def grain(span: Window, now: datetime, retention: RetentionSettings) -> str:
    """``minute``, ``hour`` or ``day``: the finest table that is fast and still complete."""
    length, now = span.until - span.since, as_utc(now)
    if length <= MINUTE_SPAN and retention.keeps("minute", span.since, now):
        return "minute"
    if length <= HOUR_SPAN and retention.keeps("hour", span.since, now):
        return "hour"
    return "day"
