"""Reconcile observations, as the ``push`` and ``other`` handlers apply them: which repair
an observation makes to the store as it is (:func:`repair_for`, pure), and applying a
batch of them (:func:`apply_observations`).

``push`` applies what the reconcile saw present (a tag pointing at a digest, a manifest, a
repository), ``other`` what it saw absent. An observation changes a row only when the row
was last changed before the observation's time, so a real event newer than the
observation always wins, and replaying the topic changes nothing. Each change is a repair
of one kind (:data:`REPAIRS`), written as one ``audit_log`` row with ``action``
``reconcile`` in the same transaction. Observations never touch the push or pull
statistics (``pushes``, ``push_count``, ``last_pushed_at`` of a repository).

The reconcile pass uses :func:`repair_for` too, to publish only what would repair something.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from common.contract import Observation
from consumers.handlers.base import Delivery
from consumers.store import observed as store
from consumers.store.observed import Key, Row, StoreRows

REPAIRS = (
    "tag_added",
    "tag_moved",
    "tag_removed",
    "manifest_added",
    "manifest_removed",
    "repository_added",
    "repository_removed",
)


@dataclass(frozen=True, slots=True)
class ObservedPlan:
    observation: Observation
    at: datetime  # the observation's time, UTC without a zone

    @property
    def key(self) -> Key:
        return key_of(self.observation)


def key_of(observation: Observation) -> Key:
    """The row an observation is about: (table, repository, tag or digest or '')."""
    if observation.subject == "tag":
        return ("tags", observation.repository, observation.tag or "")
    if observation.subject == "manifest":
        return ("manifests", observation.repository, observation.digest or "")
    return ("repositories", observation.repository, "")


def observed_plan(delivery: Delivery) -> ObservedPlan:
    """Raises :class:`~common.contract.InvalidEvent` (poison) for a malformed observation."""
    return ObservedPlan(Observation.from_event(delivery.event), delivery.occurred_at)


def _tag_repair(observation: Observation, at: datetime, row: Row | None) -> str | None:
    live = row is not None and row.deleted_at is None
    if not observation.present:
        return "tag_removed" if row is not None and live and row.changed_at < at else None
    if row is None:
        return "tag_added"
    if row.changed_at >= at:
        return None
    if not live:
        return "tag_added"
    return "tag_moved" if row.digest != observation.digest else None


def repair_for(observation: Observation, at: datetime, row: Row | None) -> str | None:
    """The repair applying ``observation`` (dated ``at``) to ``row`` (None: no row) makes,
    or None when it changes nothing or the row is newer."""
    if observation.subject == "tag":
        return _tag_repair(observation, at, row)
    kind = observation.subject  # manifest or repository
    if observation.present:
        if row is None or (row.deleted_at is not None and row.deleted_at < at):
            return f"{kind}_added"
        return None
    if row is not None and row.deleted_at is None and row.changed_at < at:
        return f"{kind}_removed"
    return None


@dataclass(frozen=True, slots=True)
class Repair:
    plan: ObservedPlan
    kind: str
    before: Row | None


def decide(plans: Sequence[ObservedPlan], rows: StoreRows) -> list[Repair]:
    """The repairs of a batch, oldest first; each sees the rows as the earlier ones left them."""
    repairs: list[Repair] = []
    for plan in sorted(plans, key=lambda p: p.at):
        before = rows.get(plan.key)
        kind = repair_for(plan.observation, plan.at, before)
        if kind is not None:
            repairs.append(Repair(plan, kind, before))
            rows[plan.key] = store.row_after(plan.observation, plan.at, before)
    return repairs


async def apply_observations(
    connection: AsyncConnection, plans: Sequence[ObservedPlan], *, present: bool, now: datetime
) -> int:
    """Apply the batch's observations that say ``present`` (the others are the other handler's);
    returns how many repairs were made."""
    mine = [plan for plan in plans if plan.observation.present is present]
    if not mine:
        return 0
    rows = await store.current_rows(connection, [plan.key for plan in mine])
    repairs = decide(mine, rows)
    await store.write_repairs(
        connection, [(r.plan.observation, r.plan.at, r.kind, r.before) for r in repairs], now
    )
    return len(repairs)
