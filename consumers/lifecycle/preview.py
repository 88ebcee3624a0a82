"""A plan straight from the store: the manifests' facts and the blob graph, then
:func:`~consumers.lifecycle.plan.make_plan`. It reads and changes nothing else, so the
dashboard's cleanup preview and ``registry-consumer cleanup plan`` show the same plan.

It plans the whole registry (seconds at thousands of repositories, ``docs/performance.md``):
the contents are loaded once for the facts and the graph, and the CPU-bound
:func:`~consumers.lifecycle.plan.make_plan` runs in a worker thread, so the dashboard's event
loop keeps answering other requests meanwhile."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.lifecycle.contents import load_contents
from consumers.lifecycle.facts import manifest_facts
from consumers.lifecycle.plan import Plan, make_plan
from consumers.lifecycle.policy import Policy
from consumers.lifecycle.storage import BlobGraph


async def preview(conn: AsyncConnection, policy: Policy, now: datetime) -> Plan:
    """What ``policy`` would delete at ``now``, and why the rest is kept."""
    contents = await load_contents(conn, with_blobs=True)  # once, for the facts and the graph
    facts = await manifest_facts(conn, contents=contents)
    graph = await BlobGraph.load(conn, contents=contents)
    return await asyncio.to_thread(make_plan, policy, facts, graph.freed, now)
