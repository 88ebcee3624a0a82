"""One reconcile pass: :class:`ReconcilePass`.

1. ``GET /v2/`` first: an unreachable registry or refused credentials end the pass at once.
2. The catalog is read page by page (never held whole). For each page, the store's rows of
   those repositories are read, each repository is scanned (:mod:`~consumers.reconcile.scan`,
   ``concurrency`` repositories at a time) and compared (:mod:`~consumers.reconcile.compare`),
   and the store's live repositories that sort between the previous page and this one but
   are not listed are observed absent.
3. Observations go through the :class:`~consumers.reconcile.outbox.Outbox` (settle, check
   again, publish).

A repository that fails (403, a bad manifest, a tag list that loops, 5xx after the
retries) is counted and logged and the pass goes on; five in a row unreachable, a catalog
page that fails, or refused credentials end the pass as ``failed``, with ``resume_after``
the last catalog page done: the next attempt starts there. Nothing half-read is published.
An empty catalog never removes anything (counted as ``empty_catalog``).

4. After a pass that ends ``ok``, today's storage snapshot is written (``storage_daily``,
   :func:`consumers.lifecycle.storage.write_snapshot`); a failure there is logged and
   leaves the pass ``ok``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from consumers.errors import Interrupted
from consumers.lifecycle.storage import write_snapshot
from consumers.reconcile.compare import Observations, absence_observations, observations_for
from consumers.reconcile.outbox import Outbox
from consumers.reconcile.progress import Progress
from consumers.reconcile.publisher import ObservationPublisher
from consumers.reconcile.scan import Scanner, utc_now
from consumers.reconcile.store_view import RepositoryState, live_repositories_between, read_states
from consumers.reconcile.summary import PassSummary
from consumers.registry_api import (
    AccessDenied,
    BadContent,
    BadPagination,
    NotFound,
    RegistryClient,
    RegistryError,
    RegistryUnreachable,
    UnexpectedAnswer,
)
from consumers.store import pass_rows

MAX_UNREACHABLE_IN_A_ROW = 5
log = logging.getLogger("consumers.reconcile")
_KINDS: tuple[tuple[type[RegistryError], str], ...] = (
    (AccessDenied, "forbidden"),
    (NotFound, "not_found"),
    (BadContent, "bad_content"),
    (BadPagination, "bad_pagination"),
    (RegistryUnreachable, "unreachable"),
    (UnexpectedAnswer, "unexpected"),
)


class PassFailed(Exception):
    """The pass cannot go on; the summary says why (``error``) and where (``resume_after``)."""


def error_kind(error: RegistryError) -> str | None:
    return next((kind for cls, kind in _KINDS if isinstance(error, cls)), None)


class ReconcilePass:
    def __init__(
        self,
        client: RegistryClient,
        engine: AsyncEngine,
        publisher: ObservationPublisher,
        *,
        trigger: str,
        settle: float,
        progress: Progress,
        resume_after: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.client, self.engine, self.publisher, self.progress = client, engine, publisher, progress
        self.clock = clock
        self.summary = PassSummary(str(uuid.uuid4()), trigger, client.settings.url, clock())
        self.summary.resume_after = resume_after
        self.maker = Observations(self.summary.id, client.settings.host, timedelta(seconds=settle))
        self.outbox = Outbox(engine, publisher, settle)
        self.scanner = Scanner(client, engine, self.summary, clock)
        self._slots = asyncio.Semaphore(max(1, client.settings.concurrency))
        self._unreachable_in_a_row = 0
        self._requests_before = client.requests

    async def run(self) -> PassSummary:
        """The pass, to its end; the summary's ``status`` says how it ended."""
        summary = self.summary
        async with self.engine.begin() as connection:
            await pass_rows.start_pass(connection, summary.row())
        self.outbox.start()
        try:
            await self._catalog()
            await self.outbox.close()
            summary.status, summary.resume_after = "ok", None
        except (PassFailed, RegistryError, DBAPIError, OSError) as exc:
            summary.status, summary.error = "failed", str(exc)[:1000]
            summary.failure = exc.__cause__ if isinstance(exc, PassFailed) and exc.__cause__ else exc
            await self._close_after_failure()
        except (Interrupted, asyncio.CancelledError):
            summary.status, summary.error = "interrupted", "stopped during the pass"
            await self.outbox.abort()
            raise
        finally:
            summary.repairs.update(self.outbox.repairs)
            await self._finish()
        return summary

    async def _close_after_failure(self) -> None:
        """What was read before the failure is still true: publish it, unless that fails too."""
        try:
            await self.outbox.close()
        except (DBAPIError, OSError, RuntimeError) as exc:
            log.warning("observations left unpublished", extra={"fields": {"error": str(exc)[:300]}})
            await self.outbox.abort()

    async def _finish(self) -> None:
        summary = self.summary
        summary.finished_at = self.clock()
        summary.requests = self.client.requests - self._requests_before
        self.progress.done()
        fields = summary.line()
        line = log.info if summary.status == "ok" else log.error
        line(f"reconcile pass {summary.status}", extra={"fields": fields | {"trigger": summary.trigger}})
        try:
            async with self.engine.begin() as connection:
                await pass_rows.update_pass(connection, summary.row())
        except (DBAPIError, OSError) as exc:
            log.warning("the pass row could not be written", extra={"fields": {"error": str(exc)[:300]}})
        if summary.status == "ok":
            await self._snapshot()

    async def _snapshot(self) -> None:
        """Today's storage snapshot (``storage_daily``), after a pass that ended ok. Its
        failure is logged once and does not fail the pass."""
        try:
            async with self.engine.begin() as connection:
                await write_snapshot(connection, self.clock())
        except Exception as exc:  # the pass is done and recorded: nothing of it depends on this
            expected = isinstance(exc, (DBAPIError, OSError))
            fields = {"error": str(exc)[:300], "pass": self.summary.id}
            log.warning(
                "the storage snapshot could not be written", exc_info=not expected, extra={"fields": fields}
            )

    async def _catalog(self) -> None:
        await self.client.ping()
        summary = self.summary
        previous, listed_any = summary.resume_after, summary.resume_after is not None
        try:
            async for page in self.client.catalog(after=previous):
                listed_any = True
                await self._page(page, previous, self.clock())
                previous = summary.resume_after = page[-1]
                async with self.engine.begin() as connection:
                    so_far = {"requests": self.client.requests - self._requests_before}
                    await pass_rows.update_pass(connection, summary.row() | so_far)
        except RegistryError as exc:
            raise PassFailed(f"the catalog could not be read: {exc}") from exc
        if not listed_any:
            await self._empty_catalog()
            return
        await self._absent(previous, None, self.clock())

    async def _empty_catalog(self) -> None:
        async with self.engine.connect() as connection:
            live = await live_repositories_between(connection, None, None, limit=1)
        if live:
            self.summary.errors["empty_catalog"] += 1
            log.error(
                "the registry's catalog is empty but the store holds repositories: nothing is removed "
                "(do the credentials have catalog access? is REGBRIDGE_REGISTRY_URL the right registry?)",
                extra={"fields": {"registry": self.summary.registry}},
            )

    async def _page(self, page: list[str], previous: str | None, listed_at: datetime) -> None:
        async with self.engine.connect() as connection:
            states = await read_states(connection, page)
        try:
            async with asyncio.TaskGroup() as group:
                for name in page:
                    group.create_task(self._repository(name, states[name]))
        except BaseExceptionGroup as failed:  # the first failure, as itself (the others were cancelled)
            raise failed.exceptions[0] from None
        await self._absent(previous, page[-1], listed_at, listed=set(page))

    async def _repository(self, name: str, state: RepositoryState) -> None:
        async with self._slots:
            try:
                scan = await self.scanner.scan(name, state)
            except RegistryError as exc:
                self._skipped(name, exc)
            else:
                self._unreachable_in_a_row = 0
                await self.outbox.put(observations_for(scan, state, self.maker))
            self.summary.repositories += 1
            self.progress.advance(self.summary, name)

    def _skipped(self, name: str, error: RegistryError) -> None:
        kind = error_kind(error)
        if kind is None:  # refused credentials: nothing else will work either
            raise PassFailed(str(error)) from error
        self.summary.errors[kind] += 1
        log.warning(
            "repository skipped",
            extra={"fields": {"repository": name, "kind": kind, "error": str(error)[:500]}},
        )
        if kind != "unreachable":
            return
        self._unreachable_in_a_row += 1
        if self._unreachable_in_a_row >= MAX_UNREACHABLE_IN_A_ROW:
            raise PassFailed(
                f"the registry stopped answering ({self._unreachable_in_a_row} repositories in a row): "
                f"{error}"
            )

    async def _absent(
        self, after: str | None, until: str | None, at: datetime, listed: set[str] | None = None
    ) -> None:
        """Live repositories of the store in (after, until] that the catalog did not list."""
        cursor = after
        while True:
            async with self.engine.connect() as connection:
                names = await live_repositories_between(connection, cursor, until)
                gone = [name for name in names if not listed or name not in listed]
                states = await read_states(connection, gone)
            for name in gone:
                await self.outbox.put(absence_observations(states[name], at, self.maker))
            if len(names) < 1000:
                return
            cursor = names[-1]
