"""Per-repository pull rollups: ``pulls_repository_hourly`` and ``pulls_repository_daily``.

Additive: two new tables, the sums of ``pulls_hourly`` and ``pulls_daily`` over the
reference, backfilled here from them (``INSERT … SELECT … GROUP BY``, one statement per
table, on SQLite and PostgreSQL alike), so the dashboard's long ranges read the same figures
as before from 4 to 9 times fewer rows. From this revision on the pull handler writes them in the
same transaction as the other rollups.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

COUNTERS = ("manifest_gets", "manifest_heads", "blob_gets", "blob_heads", "bytes")
TABLES = (
    # (new table, its bucket, the reference-level rollup it sums)
    ("pulls_repository_hourly", "hour", "pulls_hourly"),
    ("pulls_repository_daily", "day", "pulls_daily"),
)


def upgrade() -> None:
    for name, bucket, source in TABLES:
        op.create_table(
            name,
            sa.Column(bucket, sa.DateTime(), nullable=False),
            sa.Column("repository", sa.Text(), nullable=False),
            *(sa.Column(c, sa.BigInteger(), server_default="0", nullable=False) for c in COUNTERS),
            sa.Column("last_pulled_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint(bucket, "repository", name=op.f(f"pk_{name}")),
        )
        op.create_index(op.f(f"ix_{name}_repository_{bucket}"), name, ["repository", bucket], unique=False)
        op.execute(_backfill(name, bucket, source))


def _backfill(name: str, bucket: str, source: str) -> str:
    """The reference summed out of ``source`` into ``name`` (fixed names, no input)."""
    columns, sums = ", ".join(COUNTERS), ", ".join(f"sum({c})" for c in COUNTERS)
    return (
        f"INSERT INTO {name} ({bucket}, repository, {columns}, last_pulled_at) "  # noqa: S608
        f"SELECT {bucket}, repository, {sums}, max(last_pulled_at) FROM {source} "
        f"GROUP BY {bucket}, repository"
    )


def downgrade() -> None:
    for name, bucket, _ in reversed(TABLES):
        op.drop_index(op.f(f"ix_{name}_repository_{bucket}"), table_name=name)
        op.drop_table(name)
