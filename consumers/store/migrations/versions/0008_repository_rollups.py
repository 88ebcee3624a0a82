"""Pull rollups without the reference: ``pulls_repository_hourly``/``_daily`` (per
repository) and ``pulls_total_hourly``/``_daily`` (the registry, one row per bucket).

Additive: four new tables, the sums of ``pulls_hourly`` and ``pulls_daily`` over the
reference (and, for the totals, the repository), backfilled here from them (``INSERT …
SELECT … GROUP BY``, one statement per table, on SQLite and PostgreSQL alike), so the
dashboard's long ranges read the same figures as before from far fewer rows. From this
revision on the pull handler writes them in the same transaction as the other rollups.

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
    # (new table, its bucket, its keys after the bucket, the reference-level rollup it sums)
    ("pulls_repository_hourly", "hour", ("repository",), "pulls_hourly"),
    ("pulls_repository_daily", "day", ("repository",), "pulls_daily"),
    ("pulls_total_hourly", "hour", (), "pulls_hourly"),
    ("pulls_total_daily", "day", (), "pulls_daily"),
)


def upgrade() -> None:
    for name, bucket, keys, source in TABLES:
        op.create_table(
            name,
            sa.Column(bucket, sa.DateTime(), nullable=False),
            *(sa.Column(key, sa.Text(), nullable=False) for key in keys),
            *(sa.Column(c, sa.BigInteger(), server_default="0", nullable=False) for c in COUNTERS),
            sa.Column("last_pulled_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint(bucket, *keys, name=op.f(f"pk_{name}")),
        )
        if keys:
            op.create_index(
                op.f(f"ix_{name}_repository_{bucket}"), name, ["repository", bucket], unique=False
            )
        op.execute(_backfill(name, (bucket, *keys), source))


def _backfill(name: str, keys: tuple[str, ...], source: str) -> str:
    """``source`` summed into ``name`` per ``keys`` (fixed names, no input)."""
    columns, sums, by = ", ".join(COUNTERS), ", ".join(f"sum({c})" for c in COUNTERS), ", ".join(keys)
    return (
        f"INSERT INTO {name} ({by}, {columns}, last_pulled_at) "  # noqa: S608
        f"SELECT {by}, {sums}, max(last_pulled_at) FROM {source} GROUP BY {by}"
    )


def downgrade() -> None:
    for name, bucket, keys, _ in reversed(TABLES):
        if keys:
            op.drop_index(op.f(f"ix_{name}_repository_{bucket}"), table_name=name)
        op.drop_table(name)
