"""Alembic environment: runs on the connection that ``consumers.store.migrate`` hands over
in ``config.attributes["connection"]`` (the async engine's connection, run synchronously)."""

from __future__ import annotations

from alembic import context

from consumers.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `registry-consumer db upgrade` (consumers.store.migrate)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
