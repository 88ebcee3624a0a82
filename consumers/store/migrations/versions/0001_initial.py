"""The first schema: inventory, pull statistics, audit log and processed event ids.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("repository", sa.Text(), nullable=False),
        sa.Column("tag", sa.Text(), nullable=True),
        sa.Column("digest", sa.Text(), nullable=True),
        sa.Column("from_repository", sa.Text(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("addr", sa.Text(), nullable=True),
        sa.Column("useragent", sa.Text(), nullable=True),
        sa.Column("method", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_log_event_id")),
    )
    op.create_index(op.f("ix_audit_log_occurred_at"), "audit_log", ["occurred_at"], unique=False)
    op.create_index(
        op.f("ix_audit_log_repository_occurred_at"), "audit_log", ["repository", "occurred_at"], unique=False
    )
    op.create_table(
        "manifests",
        sa.Column("repository", sa.Text(), nullable=False),
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("media_type", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("first_pushed_at", sa.DateTime(), nullable=False),
        sa.Column("last_pushed_at", sa.DateTime(), nullable=False),
        sa.Column("pushed_by", sa.Text(), nullable=True),
        sa.Column("push_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("repository", "digest", name=op.f("pk_manifests")),
    )
    op.create_table(
        "processed_events",
        sa.Column("handler", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("processed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("handler", "event_id", name=op.f("pk_processed_events")),
    )
    op.create_index(
        op.f("ix_processed_events_processed_at"), "processed_events", ["processed_at"], unique=False
    )
    op.create_table(
        "pull_clients",
        sa.Column("minute", sa.DateTime(), nullable=False),
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
            "minute", "repository", "actor", "client_addr", "useragent", name=op.f("pk_pull_clients")
        ),
    )
    op.create_index(op.f("ix_pull_clients_actor_minute"), "pull_clients", ["actor", "minute"], unique=False)
    op.create_table(
        "pulls",
        sa.Column("minute", sa.DateTime(), nullable=False),
        sa.Column("repository", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("manifest_gets", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("manifest_heads", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("blob_gets", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("blob_heads", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_pulled_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("minute", "repository", "reference", name=op.f("pk_pulls")),
    )
    op.create_index(op.f("ix_pulls_repository_minute"), "pulls", ["repository", "minute"], unique=False)
    op.create_table(
        "repositories",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_event_at", sa.DateTime(), nullable=False),
        sa.Column("last_pushed_at", sa.DateTime(), nullable=True),
        sa.Column("last_pushed_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_repositories")),
    )
    op.create_table(
        "repository_blobs",
        sa.Column("repository", sa.Text(), nullable=False),
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("media_type", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("mounted_from", sa.Text(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("repository", "digest", name=op.f("pk_repository_blobs")),
    )
    op.create_table(
        "tags",
        sa.Column("repository", sa.Text(), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.Column("digest", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("repository", "tag", name=op.f("pk_tags")),
    )
    op.create_index(op.f("ix_tags_repository_digest"), "tags", ["repository", "digest"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_tags_repository_digest"), table_name="tags")
    op.drop_table("tags")
    op.drop_table("repository_blobs")
    op.drop_table("repositories")
    op.drop_index(op.f("ix_pulls_repository_minute"), table_name="pulls")
    op.drop_table("pulls")
    op.drop_index(op.f("ix_pull_clients_actor_minute"), table_name="pull_clients")
    op.drop_table("pull_clients")
    op.drop_index(op.f("ix_processed_events_processed_at"), table_name="processed_events")
    op.drop_table("processed_events")
    op.drop_table("manifests")
    op.drop_index(op.f("ix_audit_log_repository_occurred_at"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_occurred_at"), table_name="audit_log")
    op.drop_table("audit_log")
