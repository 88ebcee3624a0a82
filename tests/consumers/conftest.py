"""Fixtures for the consumer tests: a store per test on SQLite and on PostgreSQL, and
settings for a consumer with a fresh group and short timeouts."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from common.kafka import KafkaSettings
from consumers.settings import ConsumerSettings
from tests.support.database import create_database, drop_database, migrate_store, postgres_server

BACKENDS = ["sqlite", "postgresql"]
MakeSettings = Callable[..., ConsumerSettings]


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def empty_store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh, empty store (no schema) on the backend under test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    admin = request.getfixturevalue("postgres_admin_url")
    url = await create_database(admin)
    try:
        yield url
    finally:
        await drop_database(admin, url)


@pytest.fixture
async def store_url(empty_store_url: str) -> str:
    """A fresh store, migrated, on the backend under test. (Consumers in these tests do
    not migrate at start: Alembic's context is process-global, so two consumers of one
    test process must not migrate at once. The CLI tests cover migration at start.)"""
    await migrate_store(empty_store_url)
    return empty_store_url


def settings_maker(kafka_bootstrap: str, topic_prefix: str, store_url: str) -> MakeSettings:
    """Settings for one handler: fresh group, short session (Tansu answers a JoinGroup
    after half the session timeout), fast retries, no metrics server."""
    group_suffix = uuid.uuid4().hex[:8]

    def make(handler: str, **overrides: Any) -> ConsumerSettings:
        base = ConsumerSettings(
            handler=handler,
            kafka=KafkaSettings(kafka_bootstrap),
            topic_prefix=topic_prefix,
            group_id=f"{topic_prefix}.{handler}.{group_suffix}",
            database_url=store_url,
            metrics_port=0,
            poll_timeout_ms=100,
            session_timeout_ms=2000,
            retry_initial_s=0.05,
            retry_max_s=0.5,
            migrate_on_start=False,
        )
        return dataclasses.replace(base, **overrides)

    return make


@pytest.fixture
def make_settings(kafka_bootstrap: str, topic_prefix: str, store_url: str) -> MakeSettings:
    """:func:`settings_maker` for this test's topics and store."""
    return settings_maker(kafka_bootstrap, topic_prefix, store_url)
