"""HTTPS on the receiver (``REGBRIDGE_TLS_*``), on a real server with certificates made
in the test: a verified client gets its 200, plain HTTP and unverifiable clients fail,
and with a client CA only clients with a certificate from it get through."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.environ import ConfigError, Environ
from common.tls import DASHBOARD_TLS, ServerTLS
from tests.support.bridge import bridge_settings, registry_body, running_bridge
from tests.support.certs import Certificates, make_certificates

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("receiver-certs"))


def client_context(ca_file: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file))
    if cert is not None:
        context.load_cert_chain(cert, key)
    return context


def tls_from(certs: Certificates, *, client_ca: bool = False) -> ServerTLS:
    environ = {
        "REGBRIDGE_TLS_CERT_FILE": str(certs.server_cert),
        "REGBRIDGE_TLS_KEY_FILE": str(certs.server_key),
    }
    if client_ca:
        environ["REGBRIDGE_TLS_CA_FILE"] = str(certs.ca_file)
    return ServerTLS.from_environ(Environ(environ))


async def plain_http_answer(port: int) -> bytes:
    """What a plain-HTTP request to the TLS port gets back (no HTTP status line)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        return await asyncio.wait_for(reader.read(1024), 5)
    finally:
        writer.close()


async def test_https_with_a_self_signed_certificate(
    kafka_bootstrap: str, topic_prefix: str, certs: Certificates, fixture_envelopes: list[dict[str, Any]]
) -> None:
    settings = replace(bridge_settings(kafka_bootstrap, topic_prefix), tls=tls_from(certs))
    async with running_bridge(settings, verify=client_context(certs.ca_file)) as bridge:
        assert bridge.url.startswith("https://")
        answer = await bridge.post(registry_body(fixture_envelopes[0]["envelope"]))
        assert answer.status_code == 200
        port = int(bridge.url.rsplit(":", 1)[1])
        assert not (await plain_http_answer(port)).startswith(b"HTTP/")
        async with httpx.AsyncClient(verify=client_context(certs.other_ca_file)) as untrusting:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await untrusting.get(f"{bridge.url}/healthz")
        async with httpx.AsyncClient(timeout=5) as plain:
            with pytest.raises(httpx.HTTPError):
                await plain.get(f"http://127.0.0.1:{port}/healthz")


async def test_no_session_tickets(kafka_bootstrap: str, topic_prefix: str, certs: Certificates) -> None:
    """A registry never resumes a session (a new connection per event, no session cache in Go's
    client): the bridge sends no TLS 1.3 session tickets after the handshake."""
    settings = replace(bridge_settings(kafka_bootstrap, topic_prefix), tls=tls_from(certs))
    async with running_bridge(settings, verify=client_context(certs.ca_file)) as bridge:
        port = int(bridge.url.rsplit(":", 1)[1])
        context = client_context(certs.ca_file)
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), 5)  # tickets would come before the answer
            ssl_object = writer.get_extra_info("ssl_object")
        finally:
            writer.close()
        assert answer.startswith(b"HTTP/1.1 200")
        assert ssl_object.version() == "TLSv1.3"
        assert ssl_object.session is not None and not ssl_object.session.has_ticket


async def test_client_certificates_when_a_client_ca_is_set(
    kafka_bootstrap: str, topic_prefix: str, certs: Certificates
) -> None:
    settings = replace(bridge_settings(kafka_bootstrap, topic_prefix), tls=tls_from(certs, client_ca=True))
    with_cert = client_context(certs.ca_file, certs.client_cert, certs.client_key)
    async with running_bridge(settings, verify=with_cert) as bridge:
        assert (await bridge.post(b'{"events": []}')).status_code == 200
        async with httpx.AsyncClient(verify=client_context(certs.ca_file)) as anonymous:
            with pytest.raises(httpx.HTTPError):  # the handshake (or first read) is refused
                await anonymous.get(f"{bridge.url}/healthz")


def test_tls_settings_errors_name_the_variable(certs: Certificates) -> None:
    with pytest.raises(ConfigError, match="REGBRIDGE_TLS_CERT_FILE and REGBRIDGE_TLS_KEY_FILE go together"):
        ServerTLS.from_environ(Environ({"REGBRIDGE_TLS_CERT_FILE": str(certs.server_cert)}))
    with pytest.raises(ConfigError, match="REGBRIDGE_TLS_CA_FILE needs"):
        ServerTLS.from_environ(Environ({"REGBRIDGE_TLS_CA_FILE": str(certs.ca_file)}))
    wrong_key = {
        "REGBRIDGE_TLS_CERT_FILE": str(certs.server_cert),
        "REGBRIDGE_TLS_KEY_FILE": str(certs.client_key),
    }
    with pytest.raises(ConfigError, match="cannot be loaded"):
        ServerTLS.from_environ(Environ(wrong_key))
    missing = {"REGBRIDGE_TLS_CERT_FILE": "/nonexistent.pem", "REGBRIDGE_TLS_KEY_FILE": str(certs.server_key)}
    with pytest.raises(
        ConfigError, match=r"REGBRIDGE_TLS_CERT_FILE='/nonexistent\.pem' is not a readable file"
    ):
        ServerTLS.from_environ(Environ(missing))
    assert ServerTLS.from_environ(Environ({})).uvicorn_kwargs() == {}
    served = tls_from(certs, client_ca=True).server_context()
    assert served.verify_mode == ssl.CERT_REQUIRED and served.num_tickets == 0
    assert tls_from(certs).server_context().verify_mode == ssl.CERT_NONE


def test_only_the_bridge_drops_session_tickets(certs: Certificates) -> None:
    """Registries never resume a TLS session (a new connection per event); browsers on the
    dashboard do."""
    environ = {
        "REGBRIDGE_DASHBOARD_TLS_CERT_FILE": str(certs.server_cert),
        "REGBRIDGE_DASHBOARD_TLS_KEY_FILE": str(certs.server_key),
    }
    dashboard = ServerTLS.from_environ(Environ(environ), DASHBOARD_TLS).server_context()
    assert tls_from(certs).server_context().num_tickets == 0
    assert dashboard.num_tickets > 0
