"""Push statistics: the pushes table (per-minute buckets per repository and kind).

Additive only. A store migrated from 0002 starts counting pushes from the first batch
after the upgrade; replay the push topic into a fresh store to backfill (see
docs/consumers.md, "Rebuilding the store").

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "pushes",
        sa.Column("minute", sa.DateTime(), nullable=False),
        sa.Column("repository", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_pushed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("minute", "repository", "kind", name=op.f("pk_pushes")),
    )
    op.create_index(op.f("ix_pushes_repository_minute"), "pushes", ["repository", "minute"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_pushes_repository_minute"), table_name="pushes")
    op.drop_table("pushes")
