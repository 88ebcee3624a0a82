"""Writes the handlers share: dialect-specific ``INSERT … ON CONFLICT`` and the helpers
that make conditional upserts portable between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Table, case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")
CHUNK = 2000  # bound values per IN list: far below both drivers' limits


def insert_for(connection: AsyncConnection, table: Table) -> Any:
    """``INSERT`` with ``on_conflict_do_update``/``do_nothing`` for this dialect."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def later(new: ColumnElement[Any], old: ColumnElement[Any]) -> ColumnElement[Any]:
    """The later of two times (NULL-safe: a NULL old value loses)."""
    return case((old.is_(None), new), (new > old, new), else_=old)


def earlier(new: ColumnElement[Any], old: ColumnElement[Any]) -> ColumnElement[Any]:
    """The earlier of two times (NULL-safe)."""
    return case((old.is_(None), new), (new < old, new), else_=old)


def when_newer(
    new_time: ColumnElement[Any], old_time: ColumnElement[Any], new: ColumnElement[Any], old: Any
) -> ColumnElement[Any]:
    """``new`` when ``new_time`` is not older than ``old_time`` (or there is no old
    time), else ``old``."""
    return case((old_time.is_(None), new), (new_time >= old_time, new), else_=old)


async def execute_many(connection: AsyncConnection, statement: Any, rows: Sequence[Any]) -> None:
    """One ``executemany`` of ``statement`` (nothing when there are no rows)."""
    if rows:
        await connection.execute(statement, list(rows))


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
