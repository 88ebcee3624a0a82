"""Lifecycle: ``tag_history``, ``pull_last`` and ``storage_daily`` (``docs/lifecycle.md``).

Additive: three new tables, nothing else touched. Two of them are filled from what the
store already holds, in the same transaction:

* ``tag_history``: one open row per live tag, starting at its ``updated_at`` (by its
  ``updated_by``). Earlier periods are not known: a tag's first push is its last move
  before the upgrade until it moves again.
* ``pull_last``: from the ``pulls_daily`` manifest rows, per (repository, reference). It
  is approximate: a day row keeps the latest pull of any kind that day (a blob pull
  included), so the time is that of the day's last pull, not exactly of its last manifest
  GET or HEAD; a pull by tag is credited to the tag only (the day rows do not say which
  digest it resolved to); and user agents are not excluded (the rollups do not keep
  them per reference). From the upgrade on, the pull handler writes exact times.

``storage_daily`` fills from the reconcile's first finished pass.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_BACKFILL_TAG_HISTORY = """
INSERT INTO tag_history (repository, tag, digest, pushed_at, pushed_by)
SELECT repository, tag, digest, updated_at, updated_by FROM tags WHERE deleted_at IS NULL
"""

_BACKFILL_PULL_LAST = """
INSERT INTO pull_last (repository, reference, last_get_at, last_head_at)
SELECT repository, reference,
       MAX(CASE WHEN manifest_gets > 0 THEN last_pulled_at END),
       MAX(CASE WHEN manifest_heads > 0 THEN last_pulled_at END)
FROM pulls_daily
WHERE reference <> '' AND manifest_gets + manifest_heads > 0
GROUP BY repository, reference
"""


def _counter(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def _tables() -> None:
    op.create_table(
        "tag_history",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("repository", sa.Text(), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.Column("digest", sa.Text(), nullable=True),
        sa.Column("pushed_at", sa.DateTime(), nullable=False),
        sa.Column("pushed_by", sa.Text(), nullable=True),
        sa.Column("replaced_at", sa.DateTime(), nullable=True),
        sa.Column("replaced_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tag_history")),
    )
    op.create_index(
        op.f("ix_tag_history_repository_tag_pushed_at"),
        "tag_history",
        ["repository", "tag", "pushed_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_tag_history_repository_digest"), "tag_history", ["repository", "digest"], unique=False
    )
    op.create_table(
        "pull_last",
        sa.Column("repository", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("last_get_at", sa.DateTime(), nullable=True),
        sa.Column("last_head_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("repository", "reference", name=op.f("pk_pull_last")),
    )
    op.create_table(
        "storage_daily",
        sa.Column("day", sa.DateTime(), nullable=False),
        sa.Column("repository", sa.Text(), nullable=False),
        _counter("bytes"),
        _counter("manifests"),
        _counter("blobs"),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", "repository", name=op.f("pk_storage_daily")),
    )


def upgrade() -> None:
    _tables()
    op.execute(_BACKFILL_TAG_HISTORY)
    op.execute(_BACKFILL_PULL_LAST)


def downgrade() -> None:
    op.drop_table("storage_daily")
    op.drop_table("pull_last")
    op.drop_index(op.f("ix_tag_history_repository_digest"), table_name="tag_history")
    op.drop_index(op.f("ix_tag_history_repository_tag_pushed_at"), table_name="tag_history")
    op.drop_table("tag_history")
