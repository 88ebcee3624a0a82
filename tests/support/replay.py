"""Replaying a captured registry session through the real pipeline: :func:`post_session`
runs the real bridge (uvicorn on a free port, ``tests.support.bridge.running_bridge``)
against the test broker and POSTs every body of the session, in order, with its recorded
headers, asserting that each POST was answered 2xx. The bridge deduplicates the registry's
retries (same event id, see ``bridge/dedupe.py``), so only the distinct events land on the
topics. The session replays and the dashboard tests use it; writing records straight to
the broker, without the bridge, is :func:`tests.support.kafka.publish_to_kafka`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.support.bridge import TOKEN, bridge_settings, counts, running_bridge

# Set by the HTTP client itself, or replaced (Authorization) for the replay.
_NOT_REPLAYED = {"host", "content-length", "authorization"}


def replay_headers(recorded: Mapping[str, str], token: str = TOKEN) -> dict[str, str]:
    """A recorded POST's headers for the replay: Content-Type and the rest as recorded,
    ``Authorization`` set to the test bridge's token on every POST. (The session's second
    registry, ``vm:15110``, was configured without one; pointed at this bridge, an
    operator configures the token there too.)"""
    headers = {name: value for name, value in recorded.items() if name.lower() not in _NOT_REPLAYED}
    headers["Authorization"] = f"Bearer {token}"
    return headers


@dataclass(frozen=True)
class Replayed:
    """What the bridge answered to a replayed session."""

    statuses: list[int]
    outcomes: Counter[str]  # published, duplicates, filtered, quarantined (x-regbridge-outcome)


async def post_session(bootstrap: str, prefix: str, session: Sequence[dict[str, Any]]) -> Replayed:
    """POST every body of ``session`` to a real bridge publishing to ``bootstrap`` under
    ``prefix``, one at a time, in order; every answer must be 2xx.

    The publish budget is raised from 0.5 s to 10 s: the test broker's first produce to a
    fresh topic can be slow, and this test is about what lands, not about latency.
    """
    statuses: list[int] = []
    outcomes: Counter[str] = Counter()
    settings = bridge_settings(bootstrap, prefix, publish_timeout=10.0)
    async with running_bridge(settings) as bridge:
        for post in session:
            response = await bridge.post(str(post["body"]).encode(), replay_headers(post["headers"]))
            assert 200 <= response.status_code < 300, (post["seq"], response.status_code, response.text)
            statuses.append(response.status_code)
            outcomes.update(counts(response))
    return Replayed(statuses, outcomes)
