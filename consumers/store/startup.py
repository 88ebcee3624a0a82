"""Opening the store when a process starts: migrate it (or check its schema), retrying while
it cannot be reached or opened, then give up with one line that says what to fix.

``registry-consumer run …`` and the dashboard call :func:`open_store` before anything else.
Each failed attempt logs one warning with the diagnosis (``store.diagnosis``) as soon as it
happens, so a wrong role or password shows on the first line; the process keeps trying for
``within`` seconds (``REGBRIDGE_STORE_START_TIMEOUT_SECONDS``, for a database that starts
at the same time), then raises :class:`~consumers.errors.StoreError`: the CLI prints its one
line and exits 1. A schema this version cannot use is not retried: one newer than it knows
(a rollback without restoring the backup), or, when the process must not migrate, one older
than it needs (run ``registry-consumer db upgrade`` first).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from common.retry import Backoff, Retrying, Sleep, retry
from consumers.errors import StoreError
from consumers.store import migrate
from consumers.store.diagnosis import diagnose

T = TypeVar("T")
log = logging.getLogger("consumers.store")
DEFAULT_START_TIMEOUT = 60.0


class SchemaUnusable(StoreError):
    """The store's schema is one this version cannot work with; retrying does not help."""


async def check_schema(engine: AsyncEngine, *, migrating: bool) -> str | None:
    """The store's revision; raises :class:`SchemaUnusable` when this version cannot use it."""
    current = await migrate.current_revision(engine)
    head = migrate.head_revision()
    if current is not None and current not in migrate.known_revisions():
        raise SchemaUnusable(
            f"the store's schema is at revision {current}, newer than this version knows (its latest "
            f"is {head}): run the version that migrated it, or restore the backup taken before the "
            "upgrade (docs/operations.md)"
        )
    if not migrating and current != head:
        raise SchemaUnusable(
            f"the store's schema is at revision {current or '(none)'}, this version needs {head}: run "
            "registry-consumer db upgrade first (or let it migrate at start)"
        )
    return current


async def explained(database_url: str, action: Callable[[], Awaitable[T]]) -> T:
    """``action()`` once; a failure to reach or open the store becomes a :class:`StoreError`
    saying what to fix (the ``db`` commands)."""
    try:
        return await action()
    except StoreError:
        raise
    except Exception as exc:
        problem = diagnose(exc, database_url)
        if problem is None:
            raise
        raise StoreError(problem) from None


def probe_sqlite(database_url: str) -> None:
    """Open a SQLite store's file once, here, with the standard library: a path that cannot
    work raises ``sqlite3.Error`` (which :func:`diagnose` explains) before any aiosqlite
    connection is tried. aiosqlite's worker thread of a failed connection can outlive the
    event loop and print a traceback at exit (aiosqlite 0.22)."""
    url = make_url(database_url)
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
        return
    sqlite3.connect(path).close()


async def open_store(
    engine: AsyncEngine,
    database_url: str,
    *,
    migrating: bool,
    within: float = DEFAULT_START_TIMEOUT,
    backoff: Backoff | None = None,
    sleep: Sleep | None = None,
    on_retry: Callable[[], None] | None = None,
) -> str | None:
    """Migrate the store (``migrating``) or check it is at the latest revision; the revision.
    ``sleep`` may raise to end the wait (a stop request); ``on_retry`` counts a retry."""

    async def attempt() -> str | None:
        probe_sqlite(database_url)
        await check_schema(engine, migrating=migrating)
        if migrating:
            await migrate.upgrade(engine)
        return await migrate.current_revision(engine)

    def explained(attempt: Retrying) -> None:
        if on_retry is not None:
            on_retry()
        problem = diagnose(attempt.error, database_url) if attempt.error else None
        fields = {"problem": problem, "attempt": attempt.attempt, "retry_in_s": round(attempt.delay, 2)}
        log.warning("the store cannot be used yet; retrying", extra={"fields": fields | {"within_s": within}})

    try:
        return await retry(
            attempt,
            backoff or Backoff(initial=0.5, maximum=5.0),
            retry_on=lambda exc: not isinstance(exc, StoreError) and diagnose(exc, database_url) is not None,
            on_retry=explained,
            max_age=within,
            sleep=sleep or asyncio.sleep,
        )
    except StoreError:
        raise
    except Exception as exc:
        problem = diagnose(exc, database_url)
        if problem is None:
            raise
        after = f" (still so after {within:g}s)" if within > 0 else ""
        raise StoreError(problem + after) from exc
