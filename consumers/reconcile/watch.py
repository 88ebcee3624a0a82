"""Seeing registry restarts: :class:`RestartWatcher` reads the ``registry_instances`` rows the
consumers record (:mod:`consumers.store.instances`) and reports those that appeared since it
last looked. A new instance id is a registry process that started, and whatever its
predecessor still had queued is gone; the reconcile process then starts a pass.

Any new instance counts, a restart of a known address or a first sight of a new one (a
replica that came up on a new host): a pass more is cheap, a gap left open is not.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from consumers.store.instances import instances_after, newest_instance_id

log = logging.getLogger("consumers.reconcile")


class RestartWatcher:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._after: int | None = None

    async def baseline(self) -> None:
        """Start from what the store holds now: older instances are not news."""
        async with self.engine.connect() as connection:
            self._after = await newest_instance_id(connection)

    async def new_instances(self) -> list[dict[str, Any]]:
        if self._after is None:
            await self.baseline()
        async with self.engine.connect() as connection:
            found = await instances_after(connection, self._after or 0)
        if found:
            self._after = max(int(row["id"]) for row in found)
        for row in found:
            fields = {key: row[key] for key in ("addr", "instance_id", "restart")}
            fields["first_seen_at"] = row["first_seen_at"].isoformat() + "Z"
            what = (
                "registry restart seen: events pending before it may be lost"
                if row["restart"]
                else ("new registry instance seen")
            )
            log.warning(what, extra={"fields": fields})
        return found
