"""Test-only helpers that reach real parts (broker, database, processes)."""
