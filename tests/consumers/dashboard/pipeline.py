"""The ONE place the dashboard tests get their data: the real pipeline.

:func:`populate_store` POSTs every body of a captured registry session, in order, to the
real bridge (``tests.support.replay.post_session``: every answer must be 2xx), which
publishes to the real test broker, then runs the real consumers one after the other
(push, pull, other: deletes are matched against the manifests the push consumer stored)
until each has persisted every unique event.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from consumers.store.engine import create_engine
from consumers.store.tables import processed_events
from tests.consumers.conftest import MakeSettings
from tests.consumers.dashboard.session_facts import unique_events
from tests.support.consumers import running, wait_for
from tests.support.kafka import create_topics
from tests.support.replay import post_session

HANDLER_OF = {"push": "push", "pull": "pull"}  # every other action goes to "other"


async def processed(database_url: str) -> dict[str, int]:
    """Events persisted per handler ({} while the schema does not exist yet)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            pe = processed_events.c
            query = select(pe.handler, func.count()).group_by(pe.handler)
            return {handler: int(n) for handler, n in (await conn.execute(query)).all()}
    except Exception:  # no schema yet: the consumer migrates it at start
        return {}
    finally:
        await engine.dispose()


def expected_per_handler(session: list[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(("push", "pull", "other"), 0)
    for event in unique_events(session):
        counts[HANDLER_OF.get(event.action, "other")] += 1
    return counts


async def _drain(database_url: str, handler: str, want: int) -> None:
    reached = await wait_for(lambda: processed(database_url), lambda n: n.get(handler, 0) >= want)
    assert reached.get(handler, 0) == want, f"{handler} persisted {reached} of {want} events"


async def populate_store(make_settings: MakeSettings, session: list[dict[str, Any]]) -> str:
    """Replay ``session`` through the bridge, Kafka and the consumers; returns the store's URL."""
    push, pull, other = (make_settings(name) for name in ("push", "pull", "other"))
    await create_topics(push.kafka.bootstrap_servers, [push.topic, pull.topic, other.topic])
    replayed = await post_session(push.kafka.bootstrap_servers, push.topic_prefix, session)
    want = expected_per_handler(session)
    assert replayed.outcomes["published"] == sum(want.values()), replayed.outcomes
    for settings in (push, pull, other):  # one at a time: each migrates the store at start
        async with running(settings):
            await _drain(settings.database_url, settings.handler, want[settings.handler])
    return str(push.database_url)
