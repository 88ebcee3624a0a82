"""Event times as RFC 3339 in UTC (``Z``), keeping the precision the sender gave.

Senders write ``+0000``, ``+00:00``, ``Z``, unix seconds, or Go's zero time for "unknown";
:func:`rfc3339` and :func:`from_unix` turn each into ``YYYY-MM-DDTHH:MM:SS[.fff…]Z``, or
None when the value is no usable time (the caller then stamps the receive time).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
_LATEST_UNIX = 253402300799  # 9999-12-31T23:59:59Z
_EARLIEST_YEAR = 1970  # before it: a zero value ("0001-01-01T00:00:00Z"), not a time


def stamp(moment: datetime) -> str:
    """``moment`` in UTC, microseconds, ``Z``: how the bridge writes a receive time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _offset(text: str | None) -> timedelta | None:
    if not text or text in "Zz":
        return timedelta(0)
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return -delta if text[0] == "-" else delta


def rfc3339(value: Any) -> str | None:
    """An RFC 3339 time in UTC with the sender's fractional digits, or None."""
    if not isinstance(value, str):
        return None
    match = _RFC3339.match(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    offset = _offset(zone)
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC)
    except ValueError:
        return None
    if offset is None or local.year < _EARLIEST_YEAR:
        return None
    try:
        utc = local - offset
    except OverflowError:
        return None
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + (fraction or "") + "Z"


def from_unix(value: Any) -> str | None:
    """Unix seconds (an int, or a float with its fraction) as RFC 3339, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not 0 < value <= _LATEST_UNIX:
        return None
    moment = datetime.fromtimestamp(value, UTC)
    if isinstance(value, int) or value == int(value):
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return stamp(moment)
