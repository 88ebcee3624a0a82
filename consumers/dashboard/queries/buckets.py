"""Time buckets in SQL, for SQLite and PostgreSQL alike.

The store keeps UTC times without a time zone (ISO text on SQLite, ``timestamp`` on
PostgreSQL). Window bounds are compared as naive UTC; buckets come back as whatever the
driver returns and :func:`bucket_time` turns them into aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column
from sqlalchemy.sql.elements import ColumnElement as Expression

from consumers.dashboard.params import Window, as_utc

_STEPS = {"minute": "minute", "hour": "hour", "day": "day"}
_SQLITE_FORMATS = {
    "minute": "%Y-%m-%d %H:%M:00",
    "hour": "%Y-%m-%d %H:00:00",
    "day": "%Y-%m-%d 00:00:00",
}


def naive(moment: datetime) -> datetime:
    """The UTC wall time without a zone, as the store keeps it."""
    return as_utc(moment).replace(tzinfo=None)


def within(column: ColumnElement[Any], span: Window) -> ColumnElement[bool]:
    """``since <= column < until``."""
    return (column >= naive(span.since)) & (column < naive(span.until))


def bucket(dialect: str, step: str, column: ColumnElement[Any]) -> Expression[Any]:
    """The start of ``column``'s ``step`` bucket, as a SQL expression.

    The step is inlined as a SQL literal (from a fixed set), not bound, so that the
    same expression in ``SELECT`` and ``GROUP BY`` is one expression to PostgreSQL.
    """
    if dialect == "postgresql":
        return func.date_trunc(literal_column(f"'{_STEPS[step]}'"), column)
    return func.strftime(literal_column(f"'{_SQLITE_FORMATS[step]}'"), column)


def bucket_time(value: Any) -> datetime:
    """A bucket start read back from either driver, as aware UTC."""
    if isinstance(value, datetime):
        return as_utc(value)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
