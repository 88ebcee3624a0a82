"""The store's tables. Their names and columns are a contract: the dashboard and other
consumers read them. Add columns and tables; never rename or drop them.

All times are UTC, stored without a time zone (``TIMESTAMP WITHOUT TIME ZONE`` on
PostgreSQL, ISO text on SQLite). ``''`` in a key column means "absent" (an anonymous
actor, a pull with neither tag nor digest), because key columns cannot be NULL.

Inventory (written by the ``push`` handler; deletes and mounts by ``other``)
---------------------------------------------------------------------------
``repositories``  one row per repository ever seen.
    name PK · first_seen_at · last_event_at · last_pushed_at · last_pushed_by ·
    source (the kind of registry its latest event came from: ``distribution``, ``harbor``,
    … see ``common.contract.SOURCES``; NULL before revision 0004) ·
    deleted_at (revision 0005: set when the reconcile saw the repository gone from the
    registry's catalog; cleared by a later push or observation)
``manifests``  one row per (repository, manifest digest): images, OCI indexes, lists.
    repository PK · digest PK · media_type · size (bytes) · first_pushed_at ·
    last_pushed_at · pushed_by (actor of the latest push) · push_count ·
    deleted_at · deleted_by (set by a manifest delete; cleared by a later push)
``tags``  one row per (repository, tag). A live tag has ``deleted_at IS NULL``.
    repository PK · tag PK · digest (NULL for a tombstone written before any push, and
    for a push from a registry that does not report digests: Quay, Docker Hub, Nexus) ·
    updated_at · updated_by · deleted_at · deleted_by
``repository_blobs``  blob storage per repository (layers and configs).
    repository PK · digest PK · media_type · size · first_seen_at · last_seen_at ·
    source (``push`` or ``mount``) · mounted_from · deleted_at · deleted_by

Push statistics (written by the ``push`` handler, revision 0003), per-minute buckets
------------------------------------------------------------------------------------
``pushes``  per (minute, repository, kind): every push event counted once, whether it
    added to the inventory or re-pushed what was there (a re-tag, a re-upload).
    minute PK · repository PK · kind PK (``manifest`` or ``blob``) · count · bytes (the
    target size of every push: the body the registry received) · last_pushed_at

Pull statistics (written by the ``pull`` handler), per-minute buckets
----------------------------------------------------------------------
``pulls``  per (minute, repository, reference): the reference is the tag when the
    pull named one, else the digest (a pull by digest has no tag).
    minute PK · repository PK · reference PK · manifest_gets · manifest_heads ·
    blob_gets · blob_heads · bytes (body bytes served by GETs; HEAD serves none) ·
    last_pulled_at
``pull_clients``  per (minute, repository, client): who pulls.
    minute PK · repository PK · actor PK · client_addr PK (the address without its
    ephemeral port) · useragent PK · manifest_gets · manifest_heads · blob_gets ·
    blob_heads · bytes · last_pulled_at

``pulls_hourly`` (hour PK, repository PK, reference PK, same counters),
``pulls_daily`` (day PK, repository PK, reference PK, same counters) and
``pull_clients_daily`` (day PK, repository PK, actor PK, client_addr PK, useragent PK,
same counters) are rollups of the same events (revision 0002), written in the same
transaction: chart hours and days, and rank images and clients over weeks, without
summing minute rows. ``hour``/``day`` are the bucket's start (UTC). Every primary key
starts with its time bucket, so a time range is an index range scan.

``pulls_repository_hourly`` (hour PK, repository PK, same counters) and
``pulls_repository_daily`` (day PK, repository PK, same counters) are the same rollups
without the reference (revision 0008, backfilled from ``pulls_hourly``/``pulls_daily``):
the sums of a repository's references, written in the same transaction. Registry-wide
and per-repository totals, series and rankings over long windows read them (most
references are digests, so they hold 4 to 9 times fewer rows); only what needs the reference
reads ``pulls_hourly``/``pulls_daily``. ``pulls_total_hourly`` (hour PK, same counters) and
``pulls_total_daily`` (day PK, same counters), also revision 0008, sum out the repository
too: the registry-wide totals and series read one row per bucket.

Audit (written by the ``other`` handler)
----------------------------------------
``audit_log``  one row per delete, mount or unknown action.
    id PK · event_id (unique) · occurred_at · recorded_at · action · kind (``tag``,
    ``manifest``, ``blob``, ``mount`` or ``other``) · repository · tag · digest ·
    from_repository · actor · addr · useragent · method · request_id · raw (the event
    exactly as the registry sent it)

Reconcile (revision 0005; ``docs/reconcile.md``)
-----------------------------------------------
Observations from ``<prefix>.reconcile`` change the inventory tables above (``push``
applies what is present, ``other`` what is absent) and never the statistics. A manifest
the reconcile added has ``push_count`` 0 and its push times are when it was first seen.
Each repair is an ``audit_log`` row with ``action`` ``reconcile`` and ``kind`` one of
``tag_added``, ``tag_moved``, ``tag_removed``, ``manifest_added``, ``manifest_removed``,
``repository_added``, ``repository_removed``; ``request_id`` is the pass id.

``manifest_contents``  what a manifest digest holds, fetched once (content never changes).
    digest PK · media_type · size (bytes of the manifest) · kind (``image``, ``index``
    or ``other``) · artifact_type · subject_digest (what an OCI 1.1 artifact refers to) ·
    blobs_size (config plus layers; NULL when a size is unknown) · fetched_at
``manifest_blobs``  an image manifest's config (position 0, role ``config``) and layers
    (positions 1…, role ``layer``).
    manifest_digest PK · position PK · role · digest · media_type · size
``manifest_children``  an index's (manifest list's) manifests, in order.
    index_digest PK · position PK · digest · media_type · size · platform_os ·
    platform_architecture · platform_variant
``registry_instances``  every ``source.instanceID`` seen per registry ``source.addr``
    (written by every store consumer, in the batch's transaction): a new instance of a
    known address means the registry restarted, and the events pending then are lost.
    id PK · addr · instance_id (unique together) · first_seen_at · last_seen_at (event
    times) · recorded_at (when the store first saw it) · events
``reconcile_passes``  one row per reconcile pass.
    id PK · trigger (``once``, ``start``, ``interval``, ``restart``, ``retry``) · registry ·
    status (``running``, ``ok``, ``failed``, ``interrupted``) · started_at · finished_at ·
    repositories · tags · manifests_fetched · requests · repairs (JSON, per kind) ·
    errors (JSON, per kind) · error · resume_after (the last repository done)

Lifecycle (revision 0007; ``docs/lifecycle.md``)
-------------------------------------------------
``tag_history``  one row per period a tag pointed at one digest (written by ``push`` when a
    tag moves to another digest, by ``other`` when a tag or its manifest is deleted, and by
    the reconcile's tag repairs, in the batch's transaction). A live tag has exactly one
    open row. Rows before revision 0007 start at the tag's ``updated_at`` then.
    id PK · repository · tag · digest (NULL when the registry reports none) · pushed_at ·
    pushed_by · replaced_at (NULL while current) · replaced_by (the actor who moved or
    deleted it)
``pull_last``  the latest manifest pull per (repository, reference), written by ``pull``:
    a pull by tag moves the tag's row and its digest's row (distribution reports both),
    a pull by digest the digest's. Pulls by excluded user agents
    (``REGBRIDGE_LIFECYCLE_IGNORE_USERAGENTS``) and the reconcile's own do not move it.
    repository PK · reference PK (a tag name or a digest) · last_get_at · last_head_at
    (each NULL until the first GET or HEAD)
``storage_daily``  bytes stored per day and repository, written by the reconcile after each
    finished pass (the day's row is replaced by each later pass of the same day).
    day PK · repository PK (``''``: the registry total, blobs shared across repositories
    counted once) · bytes · manifests · blobs · computed_at

Idempotency (written by the runner, in the same transaction as the handler)
---------------------------------------------------------------------------
``processed_events``  every event id a handler has persisted.
    handler PK · event_id PK · processed_at

Liveness (written by the runner, revision 0006)
-----------------------------------------------
``pipeline_uptime``  when each consumer process was up and could write to the store: one
    row per unbroken run of minutes (``consumers.runner.heartbeat``), extended once a
    minute, in the batch's transaction or, when idle, on its own.
    handler PK · process PK (host and pid, for the operator) · started_at PK ·
    last_seen_at (the latest heartbeat)
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

_ID = BigInteger().with_variant(Integer(), "sqlite")
_JSON = JSON().with_variant(JSONB(), "postgresql")


def _counter(name: str) -> Column[int]:
    return Column(name, BigInteger, nullable=False, server_default="0")


repositories = Table(
    "repositories",
    metadata,
    Column("name", Text, primary_key=True),
    Column("first_seen_at", DateTime, nullable=False),
    Column("last_event_at", DateTime, nullable=False),
    Column("last_pushed_at", DateTime),
    Column("last_pushed_by", Text),
    Column("source", Text),
    Column("deleted_at", DateTime),
)

manifests = Table(
    "manifests",
    metadata,
    Column("repository", Text, primary_key=True),
    Column("digest", Text, primary_key=True),
    Column("media_type", Text),
    Column("size", BigInteger),
    Column("first_pushed_at", DateTime, nullable=False),
    Column("last_pushed_at", DateTime, nullable=False),
    Column("pushed_by", Text),
    _counter("push_count"),
    Column("deleted_at", DateTime),
    Column("deleted_by", Text),
)

tags = Table(
    "tags",
    metadata,
    Column("repository", Text, primary_key=True),
    Column("tag", Text, primary_key=True),
    Column("digest", Text),
    Column("updated_at", DateTime, nullable=False),
    Column("updated_by", Text),
    Column("deleted_at", DateTime),
    Column("deleted_by", Text),
    Index(None, "repository", "digest"),
)

repository_blobs = Table(
    "repository_blobs",
    metadata,
    Column("repository", Text, primary_key=True),
    Column("digest", Text, primary_key=True),
    Column("media_type", Text),
    Column("size", BigInteger),
    Column("first_seen_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("source", Text, nullable=False),
    Column("mounted_from", Text),
    Column("deleted_at", DateTime),
    Column("deleted_by", Text),
)

PULL_COUNTERS = ("manifest_gets", "manifest_heads", "blob_gets", "blob_heads", "bytes")
CLIENT_COLUMNS = ("repository", "actor", "client_addr", "useragent")


def _pull_counts(name: str, bucket: str, keys: tuple[str, ...], index: tuple[str, ...] = ()) -> Table:
    """A pull-statistics table: (time bucket, *keys) → the counters."""
    return Table(
        name,
        metadata,
        Column(bucket, DateTime, primary_key=True),
        *(Column(key, Text, primary_key=True) for key in keys),
        *(_counter(counter) for counter in PULL_COUNTERS),
        Column("last_pulled_at", DateTime, nullable=False),
        *([Index(None, *index)] if index else []),
    )


pulls = _pull_counts("pulls", "minute", ("repository", "reference"), ("repository", "minute"))
pull_clients = _pull_counts("pull_clients", "minute", CLIENT_COLUMNS, ("actor", "minute"))
pulls_hourly = _pull_counts("pulls_hourly", "hour", ("repository", "reference"), ("repository", "hour"))
pulls_daily = _pull_counts("pulls_daily", "day", ("repository", "reference"), ("repository", "day"))
pull_clients_daily = _pull_counts("pull_clients_daily", "day", CLIENT_COLUMNS, ("actor", "day"))
pulls_repository_hourly = _pull_counts(
    "pulls_repository_hourly", "hour", ("repository",), ("repository", "hour")
)
pulls_repository_daily = _pull_counts("pulls_repository_daily", "day", ("repository",), ("repository", "day"))
pulls_total_hourly = _pull_counts("pulls_total_hourly", "hour", ())
pulls_total_daily = _pull_counts("pulls_total_daily", "day", ())

pushes = Table(
    "pushes",
    metadata,
    Column("minute", DateTime, primary_key=True),
    Column("repository", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    _counter("count"),
    _counter("bytes"),
    Column("last_pushed_at", DateTime, nullable=False),
    Index(None, "repository", "minute"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("event_id", Text, nullable=False, unique=True),
    Column("occurred_at", DateTime, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Column("action", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("repository", Text, nullable=False),
    Column("tag", Text),
    Column("digest", Text),
    Column("from_repository", Text),
    Column("actor", Text),
    Column("addr", Text),
    Column("useragent", Text),
    Column("method", Text),
    Column("request_id", Text),
    Column("raw", _JSON, nullable=False),
    Index(None, "occurred_at"),
    Index(None, "repository", "occurred_at"),
)

pipeline_uptime = Table(
    "pipeline_uptime",
    metadata,
    Column("handler", Text, primary_key=True),
    Column("process", Text, primary_key=True),
    Column("started_at", DateTime, primary_key=True),
    Column("last_seen_at", DateTime, nullable=False),
    Index(None, "handler", "last_seen_at"),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("handler", Text, primary_key=True),
    Column("event_id", Text, primary_key=True),
    Column("processed_at", DateTime, nullable=False),
    Index(None, "processed_at"),
)

manifest_contents = Table(
    "manifest_contents",
    metadata,
    Column("digest", Text, primary_key=True),
    Column("media_type", Text),
    Column("size", BigInteger),
    Column("kind", Text, nullable=False),
    Column("artifact_type", Text),
    Column("subject_digest", Text),
    Column("blobs_size", BigInteger),
    Column("fetched_at", DateTime, nullable=False),
)

manifest_blobs = Table(
    "manifest_blobs",
    metadata,
    Column("manifest_digest", Text, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("role", Text, nullable=False),
    Column("digest", Text, nullable=False),
    Column("media_type", Text),
    Column("size", BigInteger),
    Index(None, "digest"),
)

manifest_children = Table(
    "manifest_children",
    metadata,
    Column("index_digest", Text, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("digest", Text, nullable=False),
    Column("media_type", Text),
    Column("size", BigInteger),
    Column("platform_os", Text),
    Column("platform_architecture", Text),
    Column("platform_variant", Text),
    Index(None, "digest"),
)

registry_instances = Table(
    "registry_instances",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("addr", Text, nullable=False),
    Column("instance_id", Text, nullable=False),
    Column("first_seen_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    _counter("events"),
    UniqueConstraint("addr", "instance_id"),
    Index(None, "first_seen_at"),
)

reconcile_passes = Table(
    "reconcile_passes",
    metadata,
    Column("id", Text, primary_key=True),
    Column("trigger", Text, nullable=False),
    Column("registry", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    _counter("repositories"),
    _counter("tags"),
    _counter("manifests_fetched"),
    _counter("requests"),
    Column("repairs", _JSON, nullable=False),
    Column("errors", _JSON, nullable=False),
    Column("error", Text),
    Column("resume_after", Text),
    Index(None, "started_at"),
)

tag_history = Table(
    "tag_history",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("repository", Text, nullable=False),
    Column("tag", Text, nullable=False),
    Column("digest", Text),
    Column("pushed_at", DateTime, nullable=False),
    Column("pushed_by", Text),
    Column("replaced_at", DateTime),
    Column("replaced_by", Text),
    Index(None, "repository", "tag", "pushed_at"),
    Index(None, "repository", "digest"),
)

pull_last = Table(
    "pull_last",
    metadata,
    Column("repository", Text, primary_key=True),
    Column("reference", Text, primary_key=True),
    Column("last_get_at", DateTime),
    Column("last_head_at", DateTime),
)

storage_daily = Table(
    "storage_daily",
    metadata,
    Column("day", DateTime, primary_key=True),
    Column("repository", Text, primary_key=True),
    _counter("bytes"),
    _counter("manifests"),
    _counter("blobs"),
    Column("computed_at", DateTime, nullable=False),
)
