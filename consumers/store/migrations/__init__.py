"""Alembic migrations of the store, packaged with the code (see ``consumers.store.migrate``)."""
