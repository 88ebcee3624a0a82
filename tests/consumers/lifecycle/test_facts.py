"""The facts per manifest and per tag from a scenario of known pushes and pulls at chosen
times, fed through the real handlers into a real store (SQLite and PostgreSQL): last pulled
(GET and HEAD apart), pulls in 7/30/90 days with pulls by digest attributed to the tags that
pointed there, a tag moved between digests, user agents excluded, the stale list, parents
and sizes. Every expected value is derived by hand in the comments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.handlers.base import HandlerOptions
from consumers.lifecycle import PullCounts, manifest_facts, stale_manifests, tag_facts
from consumers.store.engine import create_engine
from devstack.ociimage import OCI_MANIFEST, Blob, BuiltImage, build_image, build_index, canonical_json
from tests.consumers.lifecycle.events import BLOB, apply, pull, push, store_fetched
from tests.support.database import read_table

NOW = datetime(2026, 12, 1, 12, 0)  # UTC; windows: 7 days from Nov 25, 30 from Nov 2, 90 from Sep 3
REPO = "team/app"
A, B, C = build_image("app", "a"), build_image("app", "b"), build_image("app", "c", layers=3)
D = "sha256:" + "d" * 64  # pushed, contents never fetched
IGNORE = HandlerOptions(ignore_useragents=("trivy*", "*replication*"))


def days_ago(days: float, hours: float = 0) -> datetime:
    return NOW - timedelta(days=days) + timedelta(hours=hours)


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


def size(image: BuiltImage) -> int:
    return len(image.manifest.data) + sum(len(blob.data) for blob in image.blobs)


T1, T2 = days_ago(40), days_ago(20)  # Oct 22: A tagged 1.0 and latest; Nov 11: latest moves to B
P1 = days_ago(35)  # Oct 27: GET latest (then A): moves the rows of latest and of A
P2 = days_ago(25)  # Nov 6: GET A by digest
P6 = days_ago(20, hours=2)  # Nov 11, after the move: GET A by digest
P3 = days_ago(10)  # Nov 21: HEAD latest (now B)
P4 = days_ago(3)  # Nov 28: GET B by digest, twice
P5 = days_ago(1)  # Nov 30: GET 1.0 by Trivy: counted, but moves no pull_last row

SCENARIO = [
    push(T1, REPO, A.digest, "1.0"),
    push(T1, REPO, A.digest, "latest"),
    push(T2, REPO, B.digest, "latest", actor="bob"),
    push(T2 + timedelta(hours=1), REPO, B.digest, "latest", actor="carol"),  # same digest: no new period
    push(days_ago(30), REPO, C.digest),
    push(days_ago(30), REPO, D),
    pull(P1, REPO, A.digest, "latest"),
    pull(P2, REPO, A.digest),
    pull(P6, REPO, A.digest),
    pull(P3, REPO, B.digest, "latest", method="HEAD"),
    pull(P4, REPO, B.digest),
    pull(P4, REPO, B.digest),
    pull(P5, REPO, A.digest, "1.0", useragent="Trivy/0.50"),
    pull(P5, REPO, A.layers[0].digest, mediaType=BLOB),  # a blob: no manifest pull
]


@pytest.fixture
async def conn(store_url: str) -> AsyncIterator[AsyncConnection]:
    await apply(store_url, SCENARIO, IGNORE)
    await store_fetched(store_url, [A.manifest, B.manifest, C.manifest])
    engine = create_engine(store_url)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def test_the_tag_history_of_a_moved_tag(conn: AsyncConnection, store_url: str) -> None:
    rows = await read_table(store_url, "tag_history", f"repository = '{REPO}'")
    periods = sorted(
        (r["tag"], r["digest"], r["pushed_at"], r["pushed_by"], r["replaced_at"], r["replaced_by"])
        for r in rows
    )
    assert periods == [
        ("1.0", A.digest, T1, "alice", None, None),
        ("latest", A.digest, T1, "alice", T2, "bob"),
        ("latest", B.digest, T2, "bob", None, None),  # carol's re-push of B changed nothing
    ]


async def test_last_pulled_per_manifest(conn: AsyncConnection) -> None:
    facts = {f.digest: f for f in await manifest_facts(conn, REPO)}
    assert set(facts) == {A.digest, B.digest, C.digest, D}
    a, b, c, d = facts[A.digest], facts[B.digest], facts[C.digest], facts[D]
    # A: its digest row, latest GET P6 (P1 through latest and P2 are older; Trivy's P5 is
    # excluded, the blob pull is no manifest pull); never HEAD
    assert (a.tags, a.last_get_at, a.last_head_at) == (("1.0",), utc(P6), None)
    # B: GET by digest P4; HEAD P3 by latest, which carried B's digest too
    assert (b.tags, b.last_get_at, b.last_head_at, b.last_pulled_at) == (
        ("latest",),
        utc(P4),
        utc(P3),
        utc(P4),
    )
    assert (b.first_pushed_at, b.last_pushed_at, b.pushed_by) == (
        utc(T2),
        utc(T2 + timedelta(hours=1)),
        "carol",
    )
    assert (c.tags, c.last_pulled_at, c.kind) == ((), None, "image")
    assert (d.kind, d.size, d.last_pulled_at) == ("unknown", None, None)
    # sizes: manifest + config + layers, from the contents the reconcile stored
    assert (a.size, b.size, c.size) == (size(A), size(B), size(C))
    assert a.parents == b.parents == ()


async def test_tag_facts_with_pulls_attributed_by_day(conn: AsyncConnection) -> None:
    facts = {f.tag: f for f in await tag_facts(conn, REPO, utc(NOW))}
    assert list(facts) == ["latest", "1.0"], "newest push first"
    latest, one = facts["latest"], facts["1.0"]
    assert (latest.digest, latest.first_pushed_at, latest.last_pushed_at, latest.pushed_by) == (
        B.digest,
        utc(T1),
        utc(T2 + timedelta(hours=1)),
        "carol",
    )
    # latest: by its name P1 (GET, Oct 27) and P3 (HEAD, Nov 21); by digest A while it
    # pointed there (Oct 22 to Nov 11, whole days): P2 (Nov 6) and P6 (Nov 11, the day it
    # moved); by digest B since (Nov 11 on): P4 twice (Nov 28).
    #   7 days (from Nov 25): P4 twice                        → 2 GET, 0 HEAD
    #   30 days (from Nov 2): P2, P6, P4 twice + HEAD P3      → 4 GET, 1 HEAD
    #   90 days:              also P1                      → 5 GET, 1 HEAD
    assert (latest.pulls_7d, latest.pulls_30d, latest.pulls_90d) == (
        PullCounts(2, 0),
        PullCounts(4, 1),
        PullCounts(5, 1),
    )
    # last pulled: its name (GET P1, HEAD P3) or B since it points there (GET P4, HEAD P3)
    assert (latest.last_get_at, latest.last_head_at) == (utc(P4), utc(P3))
    # 1.0: by name only Trivy's P5 (Nov 30: counted, it is in every statistic); by digest A
    # all along: P2 (Nov 6), P6 (Nov 11).  7 days: 1; 30 and 90 days: 3.
    assert (one.pulls_7d, one.pulls_30d, one.pulls_90d) == (
        PullCounts(1, 0),
        PullCounts(3, 0),
        PullCounts(3, 0),
    )
    # last pulled: not Trivy's; A's digest row: P6
    assert (one.last_get_at, one.last_head_at, one.first_pushed_at, one.pushed_by) == (
        utc(P6),
        None,
        utc(T1),
        "alice",
    )


async def test_an_excluded_user_agent_still_counts_in_the_statistics(
    conn: AsyncConnection, store_url: str
) -> None:
    daily = await read_table(store_url, "pulls_daily", "reference = '1.0'")
    assert [(r["day"], r["manifest_gets"]) for r in daily] == [(datetime(2026, 11, 30), 1)]
    last = {
        r["reference"]: (r["last_get_at"], r["last_head_at"])
        for r in await read_table(store_url, "pull_last")
    }
    assert "1.0" not in last
    assert last == {
        "latest": (P1, P3),
        A.digest: (P6, None),
        B.digest: (P4, P3),
    }


async def test_stale_manifests_largest_first_and_paged(conn: AsyncConnection) -> None:
    # within 7 days only B was pulled (P4, 3 days ago); A's last pull is P6, 20 days ago;
    # C and D never. Largest first: C (3 layers) > A (1 layer); D's size is unknown: last.
    assert size(C) > size(A)
    stale = await stale_manifests(conn, days=7, now=utc(NOW), limit=10)
    assert [f.digest for f in stale] == [C.digest, A.digest, D]
    page = await stale_manifests(conn, days=7, now=NOW, limit=1, offset=1)  # a naive now is UTC
    assert [f.digest for f in page] == [A.digest]
    # within 30 days A was pulled (P6): only C and D
    assert [f.digest for f in await stale_manifests(conn, days=30, now=utc(NOW), limit=10)] == [C.digest, D]


async def test_parents_and_sizes_of_an_index_and_an_artifact(store_url: str) -> None:
    index = build_index("multi", "m")
    x, y = index.images
    layer = Blob("application/vnd.example.sbom", b"the sbom of x")
    empty = Blob("application/vnd.oci.empty.v1+json", b"{}")
    sbom = Blob(
        OCI_MANIFEST,
        canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": "application/vnd.example.sbom",
                "config": empty.descriptor(),
                "layers": [layer.descriptor()],
                "subject": x.manifest.descriptor(),
            }
        ),
    )
    at = days_ago(5)
    pushes = [push(at, "team/multi", image.digest) for image in (x, y)]
    pushes += [push(at, "team/multi", index.digest, "1.0"), push(at, "team/multi", sbom.digest)]
    pushes += [push(at, "team/other", x.digest)]  # the same child in another repository: no parent there
    await apply(store_url, pushes)
    await store_fetched(store_url, [index.index, x.manifest, y.manifest, sbom])
    engine = create_engine(store_url)
    try:
        async with engine.connect() as connection:
            facts = {(f.repository, f.digest): f for f in await manifest_facts(connection)}
    finally:
        await engine.dispose()
    multi = {digest: f for (repository, digest), f in facts.items() if repository == "team/multi"}
    # the index holds its children; the artifact is held by its subject
    assert multi[x.digest].parents == (index.digest,)
    assert multi[y.digest].parents == (index.digest,)
    assert multi[sbom.digest].parents == (x.digest,)
    assert multi[index.digest].parents == ()
    assert facts[("team/other", x.digest)].parents == ()
    # an index: its own bytes plus each child's manifest, config and layers
    assert multi[index.digest].size == len(index.index.data) + size(x) + size(y)
    assert multi[index.digest].kind == "index"
    assert multi[sbom.digest].size == len(sbom.data) + len(empty.data) + len(layer.data)


async def test_a_pull_by_tag_name_counts_for_the_digest_it_pointed_at_then(store_url: str) -> None:
    # a registry that reports a pull by tag without its digest: the pull (T0 + 1 h) happened
    # while x pointed at A; x moved to B at T0 + 2 h
    t0 = days_ago(2)
    await apply(
        store_url, [push(t0, "team/x", A.digest, "x"), push(t0 + timedelta(hours=2), "team/x", B.digest, "x")]
    )
    await apply(store_url, [pull(t0 + timedelta(hours=1), "team/x", None, "x")])
    engine = create_engine(store_url)
    try:
        async with engine.connect() as connection:
            facts = {f.digest: f for f in await manifest_facts(connection, "team/x")}
            [tag] = await tag_facts(connection, "team/x", NOW)
    finally:
        await engine.dispose()
    # not B's (x pointed at A then), and not A's either (x no longer points at A)
    assert facts[B.digest].last_pulled_at is None and facts[A.digest].last_pulled_at is None
    assert tag.last_get_at == utc(t0 + timedelta(hours=1)), "the tag's name was pulled"
