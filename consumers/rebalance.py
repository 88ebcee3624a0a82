"""Commit on revoke: before partitions move to another member, the batch in flight is
finished and its offsets committed, so the new owner starts after it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import ConsumerRebalanceListener

log = logging.getLogger("consumers.rebalance")


class CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commits the batch in flight before partitions move to another member."""

    def __init__(self, commit_in_flight: Callable[[], Awaitable[None]]) -> None:
        self._commit_in_flight = commit_in_flight

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._commit_in_flight()
        log.info("partitions revoked", extra={"fields": {"partitions": sorted(str(tp) for tp in revoked)}})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("partitions assigned", extra={"fields": {"partitions": sorted(str(tp) for tp in assigned)}})
