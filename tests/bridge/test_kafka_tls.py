"""The bridge producing to a broker over TLS with a client certificate (mTLS), with
``REGBRIDGE_KAFKA_*`` settings as an operator writes them. The broker is a fresh Tansu
behind a TLS terminator (``tests/support/tls_broker.py`` says why)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bridge.settings import BridgeSettings
from common.environ import Environ
from common.kafka.security import KafkaSecurity
from tests.support.bridge import bridge_settings, counts, registry_body, running_bridge
from tests.support.certs import Certificates, make_certificates
from tests.support.kafka import consume
from tests.support.tls_broker import tls_broker


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("kafka-tls-certs"))


def mtls(certs: Certificates, ca_file: Path) -> KafkaSecurity:
    return KafkaSecurity.from_environ(
        Environ(
            {
                "REGBRIDGE_KAFKA_SECURITY_PROTOCOL": "SSL",
                "REGBRIDGE_KAFKA_SSL_CA_FILE": str(ca_file),
                "REGBRIDGE_KAFKA_SSL_CERT_FILE": str(certs.client_cert),
                "REGBRIDGE_KAFKA_SSL_KEY_FILE": str(certs.client_key),
            }
        )
    )


def with_security(settings: BridgeSettings, security: KafkaSecurity) -> BridgeSettings:
    return replace(settings, kafka=replace(settings.kafka, security=security))


async def test_the_bridge_publishes_over_mutual_tls(
    certs: Certificates, topic_prefix: str, tmp_path: Path, fixture_envelopes: list[dict[str, Any]]
) -> None:
    security = mtls(certs, certs.ca_file)
    async with tls_broker(
        certs.server_cert, certs.server_key, tmp_path / "tansu.log", certs.ca_file
    ) as broker:
        bootstrap = f"127.0.0.1:{broker.port}"
        settings = with_security(bridge_settings(bootstrap, topic_prefix), security)
        async with running_bridge(settings) as bridge:
            answer = await bridge.post(registry_body(fixture_envelopes[0]["envelope"]))
        landed = await consume(bootstrap, [f"{topic_prefix}.push"], expect=1, security=security)
        assert broker.handshakes >= 2  # the bridge and the reader both came through TLS
    assert answer.status_code == 200 and counts(answer)["published"] == 1
    assert [record.headers["event-id"].decode() for record in landed] == [
        fixture_envelopes[0]["envelope"]["events"][0]["id"]
    ]


async def test_a_broker_certificate_from_another_ca_is_refused(
    certs: Certificates, topic_prefix: str, tmp_path: Path, fixture_envelopes: list[dict[str, Any]]
) -> None:
    security = mtls(certs, certs.other_ca_file)
    async with tls_broker(
        certs.server_cert, certs.server_key, tmp_path / "tansu.log", certs.ca_file
    ) as broker:
        settings = with_security(
            bridge_settings(f"127.0.0.1:{broker.port}", topic_prefix, publish_timeout=0.3), security
        )
        async with running_bridge(settings, ready=False) as bridge:
            answer = await bridge.post(registry_body(fixture_envelopes[0]["envelope"]))
            ready = await bridge.client.get("/readyz")
    assert answer.status_code == 503 and ready.status_code == 503
