"""``/api/v1/load``'s ``pipeline_down`` and ``/api/v1/changes`` over a real store (SQLite
and PostgreSQL). The heartbeat runs are written with the consumers' own writer
(``consumers.store.uptime``), as a pull and a push consumer that stopped and came back
would have left them; the consumers writing them is tests/consumers/test_heartbeat.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from consumers.store import processed, uptime
from consumers.store.engine import create_engine
from tests.consumers.dashboard.server import dashboard_server

NOW = datetime(2026, 11, 29, 2, 12, 30, tzinfo=UTC)


def at(hhmmss: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-29T{hhmmss}")  # naive UTC, as the store keeps times


# (handler, started_at, last_seen_at): pull ran from 01:00 to 02:06 and again 02:09 to 02:09:40;
# push first ran at 01:55:20 (nothing is claimed before), missed 02:04, was last seen 02:09:50.
RUNS = [
    ("pull", "01:00:10", "02:06:30"),
    ("pull", "02:09:05", "02:09:40"),
    ("push", "01:55:20", "02:03:10"),
    ("push", "02:05:00", "02:09:50"),
    ("other", "02:11:00", "02:11:00"),  # not drawn by the load charts
]


async def write_runs(url: str, runs: list[tuple[str, str, str]]) -> None:
    engine = create_engine(url, writer=True)
    try:
        async with engine.begin() as connection:
            for handler, started, seen in runs:
                await uptime.open_run(connection, handler, "host:1", at(started))
                assert await uptime.extend_run(connection, handler, "host:1", at(started), at(seen))
    finally:
        await engine.dispose()


async def store_batch(url: str, event_id: str, moment: str) -> None:
    engine = create_engine(url, writer=True)
    try:
        async with engine.begin() as connection:
            await processed.claim(connection, "pull", [event_id], at(moment))
    finally:
        await engine.dispose()


async def down(client: httpx.AsyncClient, **query: str) -> Any:
    response = await client.get("/api/v1/load", params=query)
    assert response.status_code == 200, response.text
    return response.json()["pipeline_down"]


def stretch(since: str, until: str, minutes: int, *handlers: str) -> dict[str, Any]:
    return {
        "since": f"2026-11-29T{since}Z",
        "until": f"2026-11-29T{until}Z",
        "minutes": minutes,
        "handlers": list(handlers),
    }


async def test_the_minutes_without_a_heartbeat_are_marked_down(store_url: str) -> None:
    async with dashboard_server(store_url, NOW) as base, httpx.AsyncClient(base_url=base) as client:
        assert await down(client, range="1h") == []  # no heartbeat ever: nothing is claimed
        await write_runs(store_url, RUNS)
        expected = [
            stretch("02:04:00", "02:05:00", 1, "push"),
            stretch("02:07:00", "02:09:00", 2, "pull"),
            stretch("02:10:00", "02:12:00", 2, "pull", "push"),  # both gone; 02:12 is not over yet
        ]
        assert await down(client, range="25m") == expected
        assert await down(client, range="25m", step="hour", repository="team/hello") == expected
        assert await down(client, since="2026-11-29T02:07:30Z", until="2026-11-29T02:08:10Z") == [
            stretch("02:07:00", "02:09:00", 2, "pull")  # whole minutes: the buckets it darkens
        ]
        assert await down(client, since="2026-11-29T01:00:00Z", until="2026-11-29T01:57:00Z") == []


async def test_changes_follow_stored_batches_and_returning_consumers(store_url: str) -> None:
    async with dashboard_server(store_url, NOW) as base, httpx.AsyncClient(base_url=base) as client:
        empty = (await client.get("/api/v1/changes")).json()
        assert empty == {"token": "-|-", "last_stored_at": None, "pipeline_started_at": None}
        await store_batch(store_url, "event-1", "02:03:04")
        first = (await client.get("/api/v1/changes")).json()
        assert first["last_stored_at"] == "2026-11-29T02:03:04Z" and first["token"] != empty["token"]
        assert (await client.get("/api/v1/changes")).json() == first  # nothing new: the same token
        await write_runs(store_url, [("push", "02:09:05", "02:09:40")])
        back = (await client.get("/api/v1/changes")).json()
        assert back["pipeline_started_at"] == "2026-11-29T02:09:05Z" and back["token"] != first["token"]
