"""When the pipeline was up: the ``pipeline_uptime`` table (consumer heartbeats).

Additive and self-contained: one new table, nothing else touched. A store upgraded to it
has no heartbeats for the time before, so the dashboard claims no downtime before each
handler's first heartbeat.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "pipeline_uptime",
        sa.Column("handler", sa.Text(), nullable=False),
        sa.Column("process", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("handler", "process", "started_at", name=op.f("pk_pipeline_uptime")),
    )
    op.create_index(
        op.f("ix_pipeline_uptime_handler_last_seen_at"),
        "pipeline_uptime",
        ["handler", "last_seen_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_pipeline_uptime_handler_last_seen_at"), table_name="pipeline_uptime")
    op.drop_table("pipeline_uptime")
