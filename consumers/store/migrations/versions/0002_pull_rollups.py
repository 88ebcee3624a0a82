"""Pull rollups: pulls_hourly, pulls_daily and pull_clients_daily.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "pull_clients_daily",
        sa.Column("day", sa.DateTime(), nullable=False),
        sa.Column("repository", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("client_addr", sa.Text(), nullable=False),
        sa.Column("useragent", sa.Text(), nullable=False),
        sa.Column("manifest_gets", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("manifest_heads", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("blob_gets", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("blob_heads", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_pulled_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "repository", "actor", "client_addr", "useragent", name=op.f("pk_pull_clients_daily")
        ),
    )
    op.create_index(
        op.f("ix_pull_clients_daily_actor_day"), "pull_clients_daily", ["actor", "day"], unique=False
    )
    op.create_table(
        "pulls_daily",
        sa.Column("day", sa.DateTime(), nullable=False),
        sa.Column("repository", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("manifest_gets", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("manifest_heads", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("blob_gets", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("blob_heads", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_pulled_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", "repository", "reference", name=op.f("pk_pulls_daily")),
    )
    op.create_index(op.f("ix_pulls_daily_repository_day"), "pulls_daily", ["repository", "day"], unique=False)
    op.create_table(
        "pulls_hourly",
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("repository", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("manifest_gets", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("manifest_heads", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("blob_gets", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("blob_heads", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_pulled_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "repository", "reference", name=op.f("pk_pulls_hourly")),
    )
    op.create_index(
        op.f("ix_pulls_hourly_repository_hour"), "pulls_hourly", ["repository", "hour"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_pulls_hourly_repository_hour"), table_name="pulls_hourly")
    op.drop_table("pulls_hourly")
    op.drop_index(op.f("ix_pulls_daily_repository_day"), table_name="pulls_daily")
    op.drop_table("pulls_daily")
    op.drop_index(op.f("ix_pull_clients_daily_actor_day"), table_name="pull_clients_daily")
    op.drop_table("pull_clients_daily")
