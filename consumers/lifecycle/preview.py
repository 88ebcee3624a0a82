"""A plan straight from the store: the manifests' facts and the blob graph, then
:func:`~consumers.lifecycle.plan.make_plan`. It reads and changes nothing else, so the
dashboard's cleanup preview and ``registry-consumer cleanup plan`` show the same plan."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.lifecycle.facts import manifest_facts
from consumers.lifecycle.plan import Plan, make_plan
from consumers.lifecycle.policy import Policy
from consumers.lifecycle.storage import BlobGraph


async def preview(conn: AsyncConnection, policy: Policy, now: datetime) -> Plan:
    """What ``policy`` would delete at ``now``, and why the rest is kept."""
    facts = await manifest_facts(conn)
    graph = await BlobGraph.load(conn)
    return make_plan(policy, facts, graph.freed, now)
