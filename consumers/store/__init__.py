"""The store: an async SQLAlchemy engine (SQLite or PostgreSQL), the tables that are the
contract with readers (``tables``), Alembic migrations (``migrate``), and the dialect-
neutral writes the handlers share (``writes``)."""
