"""``REGBRIDGE_KAFKA_*`` security settings: parsing, errors that name the variable, and the
keyword arguments handed to aiokafka (the same for the bridge and the consumers)."""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bridge.settings import BridgeSettings
from common.environ import ConfigError, Environ
from common.kafka.security import KafkaSecurity
from consumers.settings import load
from tests.support.certs import Certificates, make_certificates

V = "REGBRIDGE_KAFKA_"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("kafka-certs"))


def parse(environ: dict[str, str]) -> KafkaSecurity:
    return KafkaSecurity.from_environ(Environ(environ))


def test_default_is_plaintext_without_auth() -> None:
    security = parse({})
    assert security == KafkaSecurity()
    assert security.client_kwargs() == {"security_protocol": "PLAINTEXT"}


def test_scram_over_tls_with_a_password_file(certs: Certificates, tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("s3cr,et=with commas\n")
    security = parse(
        {
            V + "SECURITY_PROTOCOL": "sasl_ssl",
            V + "SSL_CA_FILE": str(certs.ca_file),
            V + "SASL_MECHANISM": "scram-sha-512",
            V + "SASL_USERNAME": "bridge",
            V + "SASL_PASSWORD_FILE": str(password),
        }
    )
    kwargs = security.client_kwargs()
    context = kwargs.pop("ssl_context")
    assert kwargs == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "bridge",
        "sasl_plain_password": "s3cr,et=with commas",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert "s3cr" not in repr(security)


def test_mutual_tls_loads_the_client_certificate(certs: Certificates) -> None:
    security = parse(
        {
            V + "SECURITY_PROTOCOL": "SSL",
            V + "SSL_CA_FILE": str(certs.ca_file),
            V + "SSL_CERT_FILE": str(certs.client_cert),
            V + "SSL_KEY_FILE": str(certs.client_key),
        }
    )
    kwargs = security.client_kwargs()
    assert kwargs["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in kwargs
    assert len(kwargs["ssl_context"].get_ca_certs()) == 1


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({V + "SECURITY_PROTOCOL": "TLS"}, V + "SECURITY_PROTOCOL='TLS' must be one of"),
        ({V + "SECURITY_PROTOCOL": "SASL_SSL"}, V + "SASL_MECHANISM is required"),
        (
            {V + "SECURITY_PROTOCOL": "SASL_PLAINTEXT", V + "SASL_MECHANISM": "GSSAPI"},
            V + "SASL_MECHANISM='GSSAPI' must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512",
        ),
        (
            {V + "SECURITY_PROTOCOL": "SASL_PLAINTEXT", V + "SASL_MECHANISM": "SCRAM-SHA-256"},
            V + "SASL_USERNAME is required with " + V + "SASL_MECHANISM=SCRAM-SHA-256",
        ),
        (
            {
                V + "SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                V + "SASL_MECHANISM": "PLAIN",
                V + "SASL_USERNAME": "u",
            },
            V + "SASL_PASSWORD \\(or " + V + "SASL_PASSWORD_FILE\\) is required",
        ),
        (
            {V + "SASL_MECHANISM": "PLAIN"},
            V + "SASL_MECHANISM is set but " + V + "SECURITY_PROTOCOL=PLAINTEXT",
        ),
        (
            {V + "SSL_CA_FILE": "/etc/hostname"},
            V + "SSL_CA_FILE is set but " + V + "SECURITY_PROTOCOL=PLAINTEXT",
        ),
        ({V + "SECURITY_PROTOCOL": "SSL", V + "SSL_CA_FILE": "/nonexistent/ca.pem"}, V + "SSL_CA_FILE="),
        ({V + "SASL_PASSWORD_FILE": "/nonexistent/password"}, V + "SASL_PASSWORD_FILE="),
    ],
)
def test_errors_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(environ)


def test_a_certificate_needs_its_key(certs: Certificates) -> None:
    environ = {V + "SECURITY_PROTOCOL": "SSL", V + "SSL_CERT_FILE": str(certs.client_cert)}
    with pytest.raises(ConfigError, match=V + "SSL_CERT_FILE and " + V + "SSL_KEY_FILE go together"):
        parse(environ)
    mismatched = {**environ, V + "SSL_KEY_FILE": str(certs.server_key)}
    with pytest.raises(ConfigError, match="cannot be loaded"):
        parse(mismatched)


def test_bridge_and_consumers_read_the_same_variables(certs: Certificates) -> None:
    environ = {
        "REGBRIDGE_AUTH_TOKENS": "t",
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9093",
        V + "SECURITY_PROTOCOL": "SASL_SSL",
        V + "SSL_CA_FILE": str(certs.ca_file),
        V + "SASL_MECHANISM": "SCRAM-SHA-256",
        V + "SASL_USERNAME": "bridge",
        V + "SASL_PASSWORD": "pw",
    }
    bridge = BridgeSettings.from_environ(Environ(environ)).kafka.security
    consumer = load("push", Environ(environ)).kafka.security
    assert bridge == consumer == parse(environ)
    assert "pw" not in repr(BridgeSettings.from_environ(Environ(environ)))


async def test_aiokafka_accepts_the_kwargs_for_every_client(certs: Certificates) -> None:
    """aiokafka checks protocol, context and mechanism in its constructors: build each
    client the way the bridge and the consumers do (no connection is made)."""
    security = parse(
        {
            V + "SECURITY_PROTOCOL": "SASL_SSL",
            V + "SSL_CA_FILE": str(certs.ca_file),
            V + "SASL_MECHANISM": "PLAIN",
            V + "SASL_USERNAME": "bridge",
            V + "SASL_PASSWORD": "pw",
        }
    )
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", **security.client_kwargs())
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", **security.client_kwargs())
    assert producer.client._security_protocol == "SASL_SSL"
    assert consumer._client._sasl_mechanism == "PLAIN"
    await producer.stop()
    await consumer.stop()


async def test_the_consumer_process_builds_both_clients_with_the_settings(certs: Certificates) -> None:
    from consumers.process import ConsumerProcess

    environ = {
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        V + "SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        V + "SASL_MECHANISM": "SCRAM-SHA-256",
        V + "SASL_USERNAME": "consumer",
        V + "SASL_PASSWORD": "pw",
    }
    settings = replace(load("pull", Environ(environ)), database_url="sqlite:///:memory:")
    process = ConsumerProcess(settings)
    consumer, producer = process.consumer, process.producer
    for client in (consumer._client, producer.client):
        assert (client._security_protocol, client._sasl_mechanism) == ("SASL_PLAINTEXT", "SCRAM-SHA-256")
        assert (client._sasl_plain_username, client._sasl_plain_password) == ("consumer", "pw")
    await producer.stop()
    await consumer.stop()
    await process.engine.dispose()
