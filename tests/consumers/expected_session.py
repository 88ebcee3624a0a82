"""What replaying ``registry-2.8.2-session.jsonl`` must leave in the store, written out
by hand from the fixture (69 POSTs, 42 distinct event ids), not
computed by the handlers' code. Times are the events' timestamps cut to microseconds.
The replay goes through the bridge, which answers the registry's 27 retries (same event
id) as duplicates, so 42 records land: 18 push, 18 pull, 6 other. None of the rows below
depend on that: the consumers count an event id once either way.

The session: alice pushes team/hello (2 blobs + manifest f3449c41 tagged v1), pulls it
with skopeo as alice and bob (by tag, then by digest), HEADs with curl, mounts blob
88ab into team/other and team/copy, copies the image to team/copy (v1), pushes an OCI
index as team/hello:multi, tags team/copy:v1-alias, deletes manifest f3449c41 from
team/copy (+ its two tag deletes) and blob 88ab from team/other (bob); then pushes tags
r1..r3, s400, s404, s302, s204, s301, slow1, q1, q3 of f3449c41 to team/hello, several of
them retried by the registry with the same event id; finally four anonymous/eve HEADs of
team/hello:v1 (one through X-Forwarded-For 203.0.113.7) and two blob GETs.
"""

from __future__ import annotations

from datetime import datetime

MANIFEST = "sha256:f3449c41e5900c022217127b23448d2136229ce5e5b68ac6fbba10d683e5cf47"
INDEX = "sha256:3639dae3dc2acda69c4ef4ae731b2469d4527e322786d89b1430e53f55e2cc39"
LAYER = "sha256:88ab3bceacb63342ff5411682550a0ddaa9d11e72ee5441b7100d16a1eeaa792"
CONFIG = "sha256:2682ee2cf51d22de9aae6451576910118624c6061c6272d0010d0f93a3955cdd"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
BLOB = "application/octet-stream"


def at(text: str) -> datetime:
    """``"02:03:04.340114"`` on the session's day (UTC)."""
    return datetime.fromisoformat(f"2026-11-29T{text}")


UNIQUE_EVENTS = {"push": 18, "pull": 18, "other": 6}
POSTS = 69

REPOSITORIES = {
    # name: (first_seen_at, last_pushed_at, last_pushed_by)
    "team/hello": (at("02:03:04.303049"), at("02:05:02.831789"), "alice"),
    "team/copy": (at("02:03:16.120992"), at("02:03:24.217505"), "alice"),  # first seen: the mount
    "team/other": (at("02:03:15.566787"), None, None),  # only a mount and a blob delete
}

MANIFESTS = {
    # (repository, digest): (media_type, size, first, last, pushed_by, push_count, deleted_at, deleted_by)
    ("team/hello", MANIFEST): (
        OCI_MANIFEST,
        345,
        at("02:03:04.340114"),
        at("02:05:02.831789"),
        "alice",
        12,
        None,
        None,
    ),
    ("team/hello", INDEX): (
        OCI_INDEX,
        289,
        at("02:03:23.557979"),
        at("02:03:23.557979"),
        "alice",
        1,
        None,
        None,
    ),
    ("team/copy", MANIFEST): (
        OCI_MANIFEST,
        345,
        at("02:03:16.171284"),
        at("02:03:24.217505"),
        "alice",
        2,
        at("02:03:24.738583"),
        "alice",
    ),
}

LIVE_TAGS = {
    ("team/hello", tag): MANIFEST
    for tag in ("v1", "r1", "r2", "r3", "s400", "s404", "s302", "s204", "s301", "slow1", "q1", "q3")
} | {("team/hello", "multi"): INDEX}

DELETED_TAGS = {
    # (repository, tag): deleted_at (the tag delete events)
    ("team/copy", "v1"): at("02:03:24.741809"),
    ("team/copy", "v1-alias"): at("02:03:24.743594"),
}

BLOBS = {
    # (repository, digest): (size, source, mounted_from, deleted_at, deleted_by)
    ("team/hello", LAYER): (176, "push", None, None, None),
    ("team/hello", CONFIG): (291, "push", None, None, None),
    ("team/copy", CONFIG): (291, "push", None, None, None),
    ("team/copy", LAYER): (176, "mount", "team/hello", None, None),
    ("team/other", LAYER): (176, "mount", "team/hello", at("02:03:25.778512"), "bob"),
}

M03, M06 = at("02:03:00"), at("02:06:00")

PULLS = {
    # (minute, repository, reference): (manifest_gets, manifest_heads, blob_gets, blob_heads, bytes)
    (M03, "team/hello", "v1"): (2, 1, 0, 0, 690),  # skopeo GET by tag x2, curl HEAD
    (M03, "team/hello", MANIFEST): (1, 0, 0, 0, 345),  # bob's GET by digest
    (M03, "team/hello", LAYER): (0, 0, 2, 2, 352),
    (M03, "team/hello", CONFIG): (0, 0, 3, 0, 873),
    (M03, "team/copy", "v1"): (1, 0, 0, 0, 345),
    (M06, "team/hello", "v1"): (0, 4, 0, 0, 0),
    (M06, "team/hello", LAYER): (0, 0, 2, 0, 352),
}

M04, M05 = at("02:04:00"), at("02:05:00")

PUSHES = {
    # (minute, repository, kind): (count, bytes, last_pushed_at): every push event once
    (M03, "team/hello", "blob"): (2, 176 + 291, at("02:03:04.326698")),  # layer, config
    # v1, multi (the 289-byte index), then r1, r2, r3, s400, s404 of f3449c41
    (M03, "team/hello", "manifest"): (7, 6 * 345 + 289, at("02:03:59.173482")),
    (M03, "team/copy", "blob"): (1, 291, at("02:03:16.164011")),  # config (the layer was mounted)
    (M03, "team/copy", "manifest"): (2, 2 * 345, at("02:03:24.217505")),  # v1, v1-alias
    (M04, "team/hello", "manifest"): (5, 5 * 345, at("02:04:49.680161")),  # s302 s204 s301 slow1 q1
    (M05, "team/hello", "manifest"): (1, 345, at("02:05:02.831789")),  # q3
}

SKOPEO, CURL = "skopeo/1.9.3", "curl/7.88.1"
PULL_CLIENTS = {
    # (minute, repository, actor, client_addr, useragent): counters as in PULLS
    (M03, "team/hello", "alice", "127.0.0.1", SKOPEO): (2, 0, 3, 1, 1448),
    (M03, "team/hello", "bob", "127.0.0.1", SKOPEO): (1, 0, 2, 0, 812),
    (M03, "team/hello", "alice", "127.0.0.1", CURL): (0, 1, 0, 1, 0),
    (M03, "team/copy", "alice", "127.0.0.1", CURL): (1, 0, 0, 0, 345),
    (M06, "team/hello", "", "127.0.0.1", CURL): (0, 2, 0, 0, 0),  # anonymous
    (M06, "team/hello", "eve", "127.0.0.1", CURL): (0, 1, 0, 0, 0),
    (M06, "team/hello", "", "203.0.113.7", CURL): (0, 1, 0, 0, 0),  # X-Forwarded-For
    (M06, "team/hello", "alice", "127.0.0.1", CURL): (0, 0, 2, 0, 352),
}

AUDIT = {
    # event id: (action, kind, repository, tag, digest, from_repository, actor, occurred_at)
    "d1e8477d": ("mount", "mount", "team/other", None, LAYER, "team/hello", "alice", at("02:03:15.566787")),
    "0b44bdee": ("mount", "mount", "team/copy", None, LAYER, "team/hello", "alice", at("02:03:16.120992")),
    "78b27ab4": ("delete", "manifest", "team/copy", None, MANIFEST, None, "alice", at("02:03:24.738583")),
    "a8c500f6": ("delete", "tag", "team/copy", "v1", None, None, "alice", at("02:03:24.741809")),
    "c807c963": ("delete", "tag", "team/copy", "v1-alias", None, None, "alice", at("02:03:24.743594")),
    "fb3f0fdc": ("delete", "blob", "team/other", None, LAYER, None, "bob", at("02:03:25.778512")),
}

# Rollups: every pull of the session falls in the hour 02:00 of one day.
H02, DAY = at("02:00:00"), at("00:00:00")
ROLLED_UP = {
    # (repository, reference): counters over the hour (and the day)
    ("team/hello", "v1"): (2, 5, 0, 0, 690),
    ("team/hello", MANIFEST): (1, 0, 0, 0, 345),
    ("team/hello", LAYER): (0, 0, 4, 2, 704),
    ("team/hello", CONFIG): (0, 0, 3, 0, 873),
    ("team/copy", "v1"): (1, 0, 0, 0, 345),
}
PULLS_HOURLY = {(H02, *key): counters for key, counters in ROLLED_UP.items()}
PULLS_DAILY = {(DAY, *key): counters for key, counters in ROLLED_UP.items()}
PULL_CLIENTS_DAILY = {
    (DAY, "team/hello", "alice", "127.0.0.1", SKOPEO): (2, 0, 3, 1, 1448),
    (DAY, "team/hello", "bob", "127.0.0.1", SKOPEO): (1, 0, 2, 0, 812),
    (DAY, "team/hello", "alice", "127.0.0.1", CURL): (0, 1, 2, 1, 352),  # 02:03 HEADs + 02:06 GETs
    (DAY, "team/copy", "alice", "127.0.0.1", CURL): (1, 0, 0, 0, 345),
    (DAY, "team/hello", "", "127.0.0.1", CURL): (0, 2, 0, 0, 0),
    (DAY, "team/hello", "eve", "127.0.0.1", CURL): (0, 1, 0, 0, 0),
    (DAY, "team/hello", "", "203.0.113.7", CURL): (0, 1, 0, 0, 0),
}
