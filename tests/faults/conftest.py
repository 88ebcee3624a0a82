"""The PostgreSQL server of the store fault test (see tests/support/database.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.database import postgres_server


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url
