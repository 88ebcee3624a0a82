"""What the consumers' store must hold after a fault test, derived from what the load did
and from the distinct event ids that reached each handler's topic.

* ``processed_events``: exactly the distinct event ids of the handler's topic (a
  duplicate is processed once);
* ``tags``: every tag the load pushed, with its digest;
* ``pull_clients``: the puller's GETs and HEADs of manifests and blobs per repository,
  exactly as many as the load made (a duplicate pull event counted twice would show).
"""

from __future__ import annotations

import time
from collections import Counter

from common.contract import TopicRouter
from tests.support.consumers import wait_for
from tests.support.database import read_table
from tests.support.kafka import Landed
from tests.support.pipeline import HANDLERS
from tests.support.scenario import PULLER, ScenarioResult

PULL_COUNTERS = ("manifest_gets", "manifest_heads", "blob_gets", "blob_heads")


def ids_by_handler(records: list[Landed], prefix: str) -> dict[str, set[str]]:
    router = TopicRouter(prefix=prefix)
    return {
        handler: {r.headers["event-id"].decode() for r in records if r.topic == router.handler_topic(handler)}
        for handler in HANDLERS
    }


async def processed(url: str) -> dict[str, set[str]]:
    try:
        rows = await read_table(url, "processed_events")
    except Exception:  # the schema is not there yet, or the store is away
        return {}
    found: dict[str, set[str]] = {h: set() for h in HANDLERS}
    for row in rows:
        found.setdefault(row["handler"], set()).add(row["event_id"])
    return found


async def wait_processed(url: str, expected: dict[str, set[str]], within: float = 120.0) -> float:
    """Until ``processed_events`` holds ``expected``; returns the seconds it took (the
    caller compares again, so a timeout shows the difference)."""
    started = time.monotonic()
    await wait_for(lambda: processed(url), lambda found: found == expected, within=within, every=0.3)
    return time.monotonic() - started


async def store_differences(url: str, expected_ids: dict[str, set[str]], result: ScenarioResult) -> list[str]:
    problems = []
    got_ids = await processed(url)
    for handler in HANDLERS:
        missing = expected_ids[handler] - got_ids.get(handler, set())
        extra = got_ids.get(handler, set()) - expected_ids[handler]
        if missing or extra:
            problems.append(f"processed_events[{handler}]: {len(missing)} missing, {len(extra)} unexpected")
    tags = {
        (r["repository"], r["tag"]): r["digest"] for r in await read_table(url, "tags") if not r["deleted_at"]
    }
    if tags != result.tag_digests:
        problems.append(f"tags: expected {len(result.tag_digests)}, got {len(tags)}")
    pulls: Counter[str] = Counter()
    for row in await read_table(url, "pull_clients", f"actor = '{PULLER}'"):
        pulls[row["repository"]] += sum(int(row[c]) for c in PULL_COUNTERS)
    expected_pulls: Counter[str] = Counter()
    for pull, n in result.pulls.items():
        expected_pulls[pull.repository] += n
    if pulls != expected_pulls:
        problems.append(f"pulls by {PULLER}: expected {dict(expected_pulls)}, got {dict(pulls)}")
    return problems
