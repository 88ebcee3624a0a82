"""The retention of the statistics, run by each store consumer for the tables it writes
(:data:`consumers.store.retention.EXPIRING`): a small task next to the batch loop, made and
stopped by the process (``consumers.process``).

Every ``interval_s`` (and once at start) it prunes each table in bounded batches
(:func:`consumers.store.retention.prune`), each its own short transaction, never inside a
batch's, with a pause as long as the batch between two: the loop keeps storing meanwhile,
and a first run over months of minute rows neither stalls consumption nor the health check.
One log line per table and run; ``regbridge_consumer_pruned_rows_total`` and
``regbridge_consumer_prune_seconds``.
A store that fails is logged and tried again at the next interval.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from consumers.metrics import ConsumerMetrics
from consumers.runner.heartbeat import Clock, now_utc
from consumers.runner.stop import StopRequest
from consumers.store.retention import EXPIRING, Expiry, Pruned, RetentionSettings, prune

log = logging.getLogger("consumers.runner")


class StatisticsPruner:
    def __init__(
        self,
        handler: str,
        engine: AsyncEngine,
        settings: RetentionSettings,
        metrics: ConsumerMetrics,
        *,
        clock: Clock = now_utc,
    ) -> None:
        self.engine, self.settings, self.metrics, self.clock = engine, settings, metrics, clock
        self.expiring = EXPIRING.get(handler, ())

    async def run(self, stop: StopRequest) -> None:
        """Prune now, then every interval, until ``stop``."""
        if not any(e.cutoff(self.settings, self.clock()) for e in self.expiring):
            return  # everything this handler writes is kept forever
        while not stop.requested:
            await self.prune_all()
            if await stop.within(self.settings.interval_s):
                return

    async def prune_all(self) -> list[Pruned]:
        """One run over every table; a table that fails does not stop the others."""
        done: list[Pruned] = []
        for expiry in self.expiring:
            pruned = await self._prune(expiry)
            if pruned is not None:
                done.append(pruned)
        return done

    async def _prune(self, expiry: Expiry) -> Pruned | None:
        before = expiry.cutoff(self.settings, self.clock())
        if before is None:
            return None
        name = expiry.table.name
        try:
            pruned = await prune(self.engine, expiry, before, self.settings.batch_rows)
        except (SQLAlchemyError, OSError) as exc:
            why = {"table": name, "error": str(exc)[:300]}
            log.warning("pruning expired statistics failed; trying again later", extra={"fields": why})
            return None
        self.metrics.pruned(name, pruned.rows, pruned.seconds)
        fields: dict[str, object] = {
            "table": name,
            "before": before.isoformat(),
            "rows": pruned.rows,
            "batches": pruned.batches,
            "ms": round(pruned.seconds * 1000, 1),
        }
        log.info("pruned expired statistics", extra={"fields": fields})
        return pruned
