"""Storage from the contents the reconcile stores, on SQLite and PostgreSQL: bytes per
repository with shared blobs counted once, the registry total, what deletions free (a
manifest in two repositories frees nothing while the other holds it), manifests whose
contents were never fetched, and the daily snapshots with their growth. The real-registry
version of the same figures is ``test_storage_registry.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.lifecycle import (
    BlobGraph,
    RepositoryStorage,
    repository_storage,
    storage_overview,
    write_snapshot,
)
from consumers.lifecycle.facts import aware
from consumers.store.engine import create_engine
from consumers.store.tables import storage_daily
from devstack.ociimage import build_index
from tests.consumers.lifecycle.events import apply, delete, push, store_fetched
from tests.consumers.lifecycle.images import everything, image_with, layer, stored

BASE = layer("the shared base")
P = image_with("p", BASE, layer("p's own layer"))
Q = image_with("q", BASE, layer("q's own layer"), layer("q's second layer"))
R = image_with("r", layer("r alone"))
UNKNOWN = "sha256:" + "e" * 64  # pushed (100 bytes, the event says), contents never fetched
DAY1 = datetime(2026, 11, 30, 6, 0)
DAY2 = datetime(2026, 12, 1, 6, 0)


@pytest.fixture
async def store(store_url: str) -> str:
    """team/p: P; team/q: Q and P (the same manifest in two repositories)."""
    pushes = [push(DAY1, "team/p", P.digest, "1.0"), push(DAY1, "team/q", Q.digest, "1.0")]
    await apply(store_url, [*pushes, push(DAY1, "team/q", P.digest, "p")])
    await store_fetched(store_url, [P.manifest, Q.manifest])
    return store_url


@pytest.fixture
async def conn(store: str) -> AsyncIterator[AsyncConnection]:
    """A connection for reads (the test's writes go through other connections)."""
    engine = create_engine(store)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def snapshot(url: str, now: datetime) -> None:
    engine = create_engine(url, writer=True)
    try:
        async with engine.begin() as connection:
            await write_snapshot(connection, now)
    finally:
        await engine.dispose()


async def test_bytes_per_repository_and_the_total_count_shared_blobs_once(conn: AsyncConnection) -> None:
    graph = await BlobGraph.load(conn)
    assert graph.repository_bytes("team/p") == stored(*everything(P))
    # team/q holds Q and P: BASE is in both, counted once
    assert graph.repository_bytes("team/q") == stored(*everything(Q), *everything(P))
    assert stored(*everything(Q), *everything(P)) < stored(*everything(Q)) + stored(*everything(P))
    # the registry: P is in two repositories and BASE in two images, each stored once
    assert graph.total_bytes() == stored(*everything(P), *everything(Q))
    assert graph.repository_bytes("team/none") == 0


async def test_what_deletions_free(conn: AsyncConnection) -> None:
    graph = await BlobGraph.load(conn)
    p_in_p, p_in_q, q_in_q = ("team/p", P.digest), ("team/q", P.digest), ("team/q", Q.digest)
    # P stays referenced by team/q: deleting it in team/p frees nothing
    assert graph.freed([p_in_p]) == {p_in_p: 0}
    # Q: its manifest, config and own layers; BASE is still P's
    assert graph.freed([q_in_q]) == {q_in_q: stored(Q.manifest, Q.config, *Q.layers[1:])}
    # everything: each blob once, to the first deletion that references it; the sum is the total
    freed = graph.freed([q_in_q, p_in_q, p_in_p])
    assert freed == {
        q_in_q: stored(*everything(Q)),
        p_in_q: stored(P.manifest, P.config, P.layers[1]),
        p_in_p: 0,
    }
    assert sum(freed.values()) == graph.total_bytes()
    assert graph.freed([("team/p", R.digest)]) == {("team/p", R.digest): 0}, "not a live manifest"


async def test_repository_storage_says_what_is_unknown(store: str, conn: AsyncConnection) -> None:
    q_bytes = stored(*everything(Q), *everything(P))
    # blobs: Q's config and three layers, P's config and own layer (BASE once): 6
    assert await repository_storage(conn, "team/q") == RepositoryStorage("team/q", q_bytes, 2, 6, 0)
    await conn.rollback()  # a fresh snapshot of the store for the next read
    await apply(store, [push(DAY1, "team/q", UNKNOWN)])
    # its blobs are unknown; its own bytes (100, as pushed) are in
    assert await repository_storage(conn, "team/q") == RepositoryStorage("team/q", q_bytes + 100, 3, 6, 1)


async def test_snapshots_the_latest_per_repository_and_growth(store: str, conn: AsyncConnection) -> None:
    assert (await storage_overview(conn, limit=10)).as_of is None, "no snapshot yet"
    await conn.rollback()
    await snapshot(store, DAY1.replace(tzinfo=UTC))
    # a day later team/r appears and team/p's P is deleted (team/q still holds P)
    await apply(store, [push(DAY2, "team/r", R.digest, "1.0"), delete(DAY2, "team/p", digest=P.digest)])
    await store_fetched(store, [R.manifest])
    await snapshot(store, DAY2 - timedelta(hours=1))
    await snapshot(store, DAY2)  # the same day again: replaces the day's rows
    overview = await storage_overview(conn, limit=10)
    q_bytes, r_bytes = stored(*everything(Q), *everything(P)), stored(*everything(R))
    assert overview.as_of == DAY2.replace(tzinfo=UTC)
    assert [(r.repository, r.bytes, r.manifests) for r in overview.repositories] == [
        ("team/q", q_bytes, 2),
        ("team/r", r_bytes, 1),
    ], "most bytes first; team/p has no live manifest any more"
    assert overview.repository_count == 2
    # growth: team/q unchanged since day 1; the total grew by R's bytes in one day
    assert overview.repositories[0].growth_per_day == 0.0
    assert overview.repositories[1].growth_per_day is None, "no earlier snapshot"
    day1_total = stored(*everything(P), *everything(Q))
    assert overview.total.bytes == day1_total + r_bytes
    assert overview.total.growth_per_day == float(r_bytes)
    assert [(p.day, p.bytes) for p in overview.history] == [
        (datetime(2026, 11, 30, tzinfo=UTC), day1_total),
        (datetime(2026, 12, 1, tzinfo=UTC), day1_total + r_bytes),
    ]
    page = await storage_overview(conn, limit=1, offset=1)
    assert [r.repository for r in page.repositories] == ["team/r"] and page.repository_count == 2


async def test_an_index_holds_its_children_and_their_blobs(store: str, conn: AsyncConnection) -> None:
    index = build_index("m", "storage")
    x, y = index.images
    pushes = [push(DAY1, "team/m", image.digest) for image in (x, y)] + [
        push(DAY1, "team/m", index.digest, "1.0")
    ]
    await apply(store, [*pushes, push(DAY1, "team/n", index.digest, "1.0")])  # the index alone in team/n
    await store_fetched(store, [index.index, x.manifest, y.manifest])
    graph = await BlobGraph.load(conn)
    held = stored(index.index, *everything(x), *everything(y))
    assert graph.repository_bytes("team/m") == held
    # team/n has only the index, but the index references its children: the same bytes
    assert graph.repository_bytes("team/n") == held
    # deleting the children in team/m frees nothing while the indexes hold them
    children = [("team/m", x.digest), ("team/m", y.digest)]
    assert graph.freed(children) == dict.fromkeys(children, 0)
    everything_of_m = [("team/m", index.digest), *children]
    assert sum(graph.freed(everything_of_m).values()) == 0, "team/n's index still holds it all"
    assert sum(graph.freed([*everything_of_m, ("team/n", index.digest)]).values()) == held


async def test_growth_from_the_oldest_snapshot_of_30_days(store_url: str) -> None:
    # storage_daily written directly: the total every day of 100 days; team/a on day -40
    # (outside the window), -30, -10 and today: growth since -30; team/b on -40 and -20
    # only: since -20; team/c today only: none. History: the total's last 90 days.
    latest = datetime(2026, 12, 1)
    at = {"": range(100), "team/a": (40, 30, 10, 0), "team/b": (40, 20, 0), "team/c": (0,)}
    rows = [
        {"day": latest - timedelta(days=n), "repository": repository, "bytes": 10_000 - n * n}
        | {"manifests": 1, "blobs": 1, "computed_at": latest}
        for repository, days in at.items()
        for n in days
    ]
    engine = create_engine(store_url, writer=True)
    try:
        async with engine.begin() as conn:
            await conn.execute(storage_daily.insert(), rows)
        async with engine.connect() as conn:
            overview = await storage_overview(conn, limit=10)
    finally:
        await engine.dispose()
    growth = {r.repository: r.growth_per_day for r in overview.repositories}
    assert growth == {"team/a": (10_000 - 9_100) / 30, "team/b": (10_000 - 9_600) / 20, "team/c": None}
    assert overview.total.growth_per_day == (10_000 - 9_100) / 30
    assert [p.day for p in overview.history] == [aware(latest - timedelta(days=n)) for n in range(90, -1, -1)]
