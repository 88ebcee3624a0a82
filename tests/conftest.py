"""Fixtures that reach real parts. A test that needs one that is missing fails."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.broker import BrokerUnderTest, open_test_broker


def _shared_dir() -> Path:
    """``../shared`` from the project root; from a git worktree (``wt/<name>``) it is
    found further up, so look in every parent."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "fixtures").is_dir():
            return parent / "shared"
    return Path(__file__).resolve().parents[2] / "shared"


SHARED = _shared_dir()
FIXTURES = SHARED / "fixtures"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parents[1] / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def broker(artifacts_dir: Path) -> Iterator[BrokerUnderTest]:
    """One real Kafka-protocol broker per test session."""
    with open_test_broker(artifacts_dir) as found:
        yield found


@pytest.fixture
def kafka_bootstrap(broker: BrokerUnderTest) -> str:
    return broker.bootstrap_servers


@pytest.fixture
def topic_prefix() -> str:
    """A fresh topic prefix per test, so every test gets fresh topics."""
    return f"t{uuid.uuid4().hex[:12]}.registry.events"


def _fixture_file(name: str) -> Path:
    path = FIXTURES / name
    if not path.exists():
        pytest.fail(f"shared fixture {path} is missing")
    return path


@pytest.fixture(scope="session")
def fixture_envelopes() -> list[dict[str, Any]]:
    """The labelled real envelopes captured from registry 2.8.2."""
    lines = _fixture_file("registry-2.8.2-envelopes.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def fixture_session() -> list[dict[str, Any]]:
    """Every POST of one real registry session, in order, with the exact bodies."""
    lines = _fixture_file("registry-2.8.2-session.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]
