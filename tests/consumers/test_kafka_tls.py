"""Every Kafka client of the consumers (the handlers' consumer and dead-letter producer, the
relay's consumer and dead-letter producer) reaches a broker that answers only TLS with a
client certificate, with nothing but the shared ``REGBRIDGE_KAFKA_*`` settings. (The
bridge's producer: ``tests/bridge/test_kafka_tls.py``.)"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from common.contract import OutgoingRecord, TopicRouter, encode_event
from common.environ import Environ
from common.kafka import KafkaSecurity, KafkaSettings
from consumers.relay.config import Subscription
from consumers.relay.retry import RetryPolicy
from consumers.settings import ConsumerSettings
from tests.consumers.relay.support import make_event, relay_running, relay_settings, until
from tests.support.certs import Certificates, make_certificates
from tests.support.consumers import running, wait_processed
from tests.support.database import migrate_store
from tests.support.kafka import consume, create_topics, send_records
from tests.support.receivers import Receiver
from tests.support.receivers import running as receiving
from tests.support.tls_broker import TlsTerminator, tls_broker

pytestmark = pytest.mark.kafka
POISON = b"{not json"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("consumer-tls-certs"))


def mtls(certs: Certificates) -> KafkaSecurity:
    variables = {
        "REGBRIDGE_KAFKA_SECURITY_PROTOCOL": "SSL",
        "REGBRIDGE_KAFKA_SSL_CA_FILE": str(certs.ca_file),
        "REGBRIDGE_KAFKA_SSL_CERT_FILE": str(certs.client_cert),
        "REGBRIDGE_KAFKA_SSL_KEY_FILE": str(certs.client_key),
    }
    return KafkaSecurity.from_environ(Environ(variables))


def records(prefix: str, topic: str) -> list[OutgoingRecord]:
    """One good push event and one poison record on ``<prefix>.<topic>``."""
    router = TopicRouter(prefix=prefix)
    good = encode_event(make_event(1, tag="v1"), router)
    poison = OutgoingRecord(f"{prefix}.{topic}", b"team-a/app", POISON, [("event-id", b"poison")])
    return [good, poison]


async def test_a_handler_and_its_dead_letters_go_through_tls(
    certs: Certificates, topic_prefix: str, tmp_path: Path
) -> None:
    security = mtls(certs)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    await migrate_store(url)
    async with tls_broker(
        certs.server_cert, certs.server_key, tmp_path / "tansu.log", certs.ca_file
    ) as broker:
        bootstrap = f"127.0.0.1:{broker.port}"
        push = ConsumerSettings(
            handler="push",
            kafka=KafkaSettings(bootstrap, security),
            topic_prefix=topic_prefix,
            group_id=f"{topic_prefix}.push.{uuid.uuid4().hex[:6]}",
            database_url=url,
            poll_timeout_ms=100,
            session_timeout_ms=2000,
            migrate_on_start=False,
        )
        await create_topics(bootstrap, [push.topic, push.router.dlq_topic], security=security)
        await send_records(bootstrap, records(topic_prefix, "push"), security)
        async with running(push):
            assert await wait_processed(url, "push", 1) == 1
            [letter] = await consume(bootstrap, [push.router.dlq_topic], expect=1, security=security)
        assert letter.value == POISON and letter.headers["dlq-handler"] == b"push"
        assert_only_tls(broker)


async def test_the_relay_and_its_dead_letters_go_through_tls(
    certs: Certificates, topic_prefix: str, tmp_path: Path
) -> None:
    security = mtls(certs)
    async with (
        tls_broker(certs.server_cert, certs.server_key, tmp_path / "tansu.log", certs.ca_file) as broker,
        receiving(Receiver()) as receiver,
    ):
        bootstrap = f"127.0.0.1:{broker.port}"
        router = TopicRouter(prefix=topic_prefix)
        await create_topics(bootstrap, [router.handler_topic("push"), router.dlq_topic], security=security)
        await send_records(bootstrap, records(topic_prefix, "push"), security)
        sub = Subscription(name="tls", url=receiver.url, topics=("push",), retry=RetryPolicy(max_attempts=1))
        settings = relay_settings(bootstrap, topic_prefix, sub, kafka=KafkaSettings(bootstrap, security))
        async with relay_running(settings):
            await receiver.wait_for(1)
            [letter] = await consume(bootstrap, [router.dlq_topic], expect=1, security=security)
            await until(lambda: len(receiver.requests) >= 1)
        assert letter.value == POISON and letter.headers["dlq-subscription"] == b"tls"
        assert len(receiver.requests) == 1
        assert_only_tls(broker)


def assert_only_tls(broker: TlsTerminator) -> None:
    """Every client came through the terminator (the broker itself listens on a private port)."""
    assert broker.handshakes >= 3, broker.handshakes
