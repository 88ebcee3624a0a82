"""Reconcile: manifest contents, registry instances, reconcile passes, removed repositories.

Additive only: five new tables and one nullable column (``repositories.deleted_at``).
The first reconcile pass after the upgrade fills ``manifest_contents`` (and its two child
tables) for every manifest the registry holds; ``registry_instances`` fills from the
first batch each consumer stores.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _counter(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def _contents() -> None:
    op.create_table(
        "manifest_contents",
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("media_type", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("artifact_type", sa.Text(), nullable=True),
        sa.Column("subject_digest", sa.Text(), nullable=True),
        sa.Column("blobs_size", sa.BigInteger(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_manifest_contents")),
    )
    op.create_table(
        "manifest_blobs",
        sa.Column("manifest_digest", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("media_type", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("manifest_digest", "position", name=op.f("pk_manifest_blobs")),
    )
    op.create_index(op.f("ix_manifest_blobs_digest"), "manifest_blobs", ["digest"], unique=False)
    op.create_table(
        "manifest_children",
        sa.Column("index_digest", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("media_type", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("platform_os", sa.Text(), nullable=True),
        sa.Column("platform_architecture", sa.Text(), nullable=True),
        sa.Column("platform_variant", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("index_digest", "position", name=op.f("pk_manifest_children")),
    )
    op.create_index(op.f("ix_manifest_children_digest"), "manifest_children", ["digest"], unique=False)


def _instances_and_passes() -> None:
    op.create_table(
        "registry_instances",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("addr", sa.Text(), nullable=False),
        sa.Column("instance_id", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        _counter("events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_instances")),
        sa.UniqueConstraint("addr", "instance_id", name=op.f("uq_registry_instances_addr_instance_id")),
    )
    op.create_index(
        op.f("ix_registry_instances_first_seen_at"), "registry_instances", ["first_seen_at"], unique=False
    )
    op.create_table(
        "reconcile_passes",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("registry", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        _counter("repositories"),
        _counter("tags"),
        _counter("manifests_fetched"),
        _counter("requests"),
        sa.Column("repairs", _JSON, nullable=False),
        sa.Column("errors", _JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("resume_after", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_passes")),
    )
    op.create_index(op.f("ix_reconcile_passes_started_at"), "reconcile_passes", ["started_at"], unique=False)


def upgrade() -> None:
    _contents()
    _instances_and_passes()
    op.add_column("repositories", sa.Column("deleted_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("repositories") as batch:
        batch.drop_column("deleted_at")
    op.drop_index(op.f("ix_reconcile_passes_started_at"), table_name="reconcile_passes")
    op.drop_table("reconcile_passes")
    op.drop_index(op.f("ix_registry_instances_first_seen_at"), table_name="registry_instances")
    op.drop_table("registry_instances")
    op.drop_index(op.f("ix_manifest_children_digest"), table_name="manifest_children")
    op.drop_table("manifest_children")
    op.drop_index(op.f("ix_manifest_blobs_digest"), table_name="manifest_blobs")
    op.drop_table("manifest_blobs")
    op.drop_table("manifest_contents")
