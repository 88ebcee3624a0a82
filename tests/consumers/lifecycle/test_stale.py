"""The stale list chosen in the store (:mod:`consumers.lifecycle.stale`) against the
definition, on a real store (SQLite and PostgreSQL): the live manifests whose
``last_pulled_at`` (from :func:`manifest_facts`) is older than the cutoff or absent, largest
``size`` first, unknown sizes last, then repository and digest. The scenario has what the
SQL must get right: an index (size = its bytes plus its children's), an index of an index,
an index with a child never fetched (size unknown), a pull by a tag's name before and after
the tag moved, pulls by HEAD only, and the same manifest in two repositories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from consumers.lifecycle import ManifestFacts, manifest_facts, stale_manifests
from consumers.store.engine import create_engine
from devstack.ociimage import OCI_INDEX, Blob, build_image, build_index, canonical_json
from tests.consumers.lifecycle.events import apply, pull, push, store_fetched

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MULTI, NESTED, HALF = build_index("multi", "m"), build_index("nested", "n"), build_index("half", "h")
OUTER = Blob(
    OCI_INDEX,
    canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [NESTED.index.descriptor()]}),
)
A, B, C = build_image("app", "a"), build_image("app", "b", layers=2), build_image("app", "c", layers=3)


def ago(days: float) -> datetime:
    return (NOW - timedelta(days=days)).replace(tzinfo=None)


EVENTS = [
    *(push(ago(60), "team/multi", d) for d in (*(i.digest for i in MULTI.images), MULTI.digest)),
    *(push(ago(50), "team/nested", d) for d in (*(i.digest for i in NESTED.images), NESTED.digest)),
    push(ago(50), "team/nested", OUTER.digest, "1.0"),
    *(push(ago(40), "team/half", d) for d in (*(i.digest for i in HALF.images), HALF.digest)),
    push(ago(70), "team/app", A.digest, "latest"),
    push(ago(20), "team/app", B.digest, "latest"),  # latest moves from A to B
    push(ago(70), "team/app", C.digest, "c"),
    push(ago(70), "team/copy", C.digest),  # the same manifest in another repository
    pull(ago(30), "team/app", None, "latest"),  # by name while latest was A: neither A's nor B's
    pull(ago(15), "team/app", None, "latest"),  # by name while latest is B: B's
    pull(ago(45), "team/app", None, "c"),
    pull(ago(10), "team/copy", C.digest, method="HEAD"),
    pull(ago(5), "team/multi", MULTI.digest),
]
FETCHED = [MULTI.index, *(i.manifest for i in MULTI.images), NESTED.index, OUTER, HALF.index]
FETCHED += [*(i.manifest for i in NESTED.images), HALF.images[0].manifest, A.manifest, B.manifest, C.manifest]


def expected(facts: list[ManifestFacts], days: int) -> list[tuple[str, str]]:
    cutoff = NOW - timedelta(days=days)
    stale = [f for f in facts if f.last_pulled_at is None or f.last_pulled_at < cutoff]
    stale.sort(key=lambda f: (f.size is None, -(f.size or 0), f.repository, f.digest))
    return [(f.repository, f.digest) for f in stale]


async def test_the_store_picks_the_same_page_as_the_definition(store_url: str) -> None:
    await apply(store_url, EVENTS)
    await store_fetched(store_url, FETCHED)
    engine = create_engine(store_url)
    try:
        async with engine.connect() as conn:
            facts = await manifest_facts(conn)
            by_key = {(f.repository, f.digest): f for f in facts}
            # the scenario covers what it claims: nested and half-known indexes, a moved tag
            inner = by_key[("team/nested", NESTED.digest)].size
            assert inner is not None and by_key[("team/nested", OUTER.digest)].size == len(OUTER.data) + inner
            assert by_key[("team/half", HALF.digest)].size is None
            assert by_key[("team/app", B.digest)].last_pulled_at == NOW - timedelta(days=15)
            assert by_key[("team/app", A.digest)].last_pulled_at is None, "latest was pulled after it moved"
            for days in (1, 7, 12, 20, 35, 50, 365):
                want = expected(facts, days)
                got = await stale_manifests(conn, days=days, now=NOW, limit=100)
                assert [(f.repository, f.digest) for f in got] == want, days
                assert got == [by_key[key] for key in want], "the page's facts are manifest_facts'"
                pages = [
                    await stale_manifests(conn, days=days, now=NOW, limit=3, offset=o) for o in (0, 3, 6, 9)
                ]
                assert [(f.repository, f.digest) for page in pages for f in page] == want[:12], days
    finally:
        await engine.dispose()
