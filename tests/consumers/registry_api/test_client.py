"""The registry API client against the real registry: TLS with a CA file, basic auth,
answers it maps to errors, retries that honour Retry-After, deletes."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from consumers.registry_api import (
    CredentialsRefused,
    NotFound,
    RegistryClient,
    RegistrySettings,
    RegistryUnreachable,
)
from devstack.ociimage import build_image
from devstack.ports import free_port
from tests.support.certs import make_certificates
from tests.support.pusher import ApiPusher
from tests.support.registry import LocalRegistry, ServerCert
from tests.support.registry_front import Fault, RegistryFront

USERS = {"alice": "alice-pw"}


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRegistry, Path, Path]]:
    folder = tmp_path_factory.mktemp("tls-registry")
    certs = make_certificates(folder / "certs")
    cert = ServerCert(certs.server_cert, certs.server_key, certs.ca_file)
    with LocalRegistry(folder / "registry", users=USERS, tls=cert) as registry:
        yield registry, certs.ca_file, certs.other_ca_file


def fast(settings: RegistrySettings) -> RegistrySettings:
    return replace(
        settings, attempts=2, timeout=5.0, backoff=replace(settings.backoff, initial=0.05, maximum=0.2)
    )


async def test_tls_with_a_ca_file_basic_auth_and_deletes(
    tls_registry: tuple[LocalRegistry, Path, Path],
) -> None:
    registry, ca_file, other_ca = tls_registry
    image = build_image("tls", "client")
    good = fast(RegistrySettings(url=registry.url, username="alice", password="alice-pw", ca_file=ca_file))
    pusher = ApiPusher(registry.url, ("alice", "alice-pw"))
    async with RegistryClient(good) as client:
        await client.ping()
        assert await client.head_manifest("tls/app", "1.0") is None
    trusted = ssl.create_default_context(cafile=str(ca_file))
    async with httpx.AsyncClient(base_url=registry.url, auth=("alice", "alice-pw"), verify=trusted) as raw:
        await pusher.image(raw, "tls/app", "1.0", image)
    async with RegistryClient(good) as client:
        assert [page async for page in client.catalog()] == [["tls/app"]]
        ref = await client.head_manifest("tls/app", "1.0")
        assert ref is not None and ref.digest == image.digest
        assert (await client.get_manifest("tls/app", image.digest)).content.kind == "image"
        await client.delete_manifest("tls/app", image.digest)
        assert await client.head_manifest("tls/app", image.digest) is None
        with pytest.raises(NotFound):
            await client.get_manifest("tls/app", "1.0")
    async with RegistryClient(fast(replace(good, ca_file=other_ca))) as client:
        with pytest.raises(RegistryUnreachable, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            await client.ping()
    async with RegistryClient(fast(replace(good, password="wrong"))) as client:
        with pytest.raises(CredentialsRefused, match="refused the configured credentials"):
            await client.ping()
    async with RegistryClient(fast(replace(good, username="", password=""))) as client:
        with pytest.raises(CredentialsRefused, match="no credentials"):
            await client.tags("tls/app")


async def test_nothing_listening_is_unreachable_after_the_attempts() -> None:
    settings = fast(RegistrySettings(url=f"http://127.0.0.1:{free_port()}"))
    async with RegistryClient(settings) as client:
        with pytest.raises(RegistryUnreachable, match="ConnectError"):
            await client.ping()
        assert client.requests == settings.attempts


async def test_a_429_is_retried_after_what_retry_after_asks(tmp_path: Path) -> None:
    with LocalRegistry(tmp_path / "registry", users=USERS) as registry, RegistryFront(registry.url) as front:
        busy = front.add(Fault("GET", r"^/v2/_catalog", status=429, headers={"Retry-After": "1"}, times=1))
        settings = fast(RegistrySettings(url=front.url, username="alice", password="alice-pw"))
        settings = replace(
            settings, backoff=replace(settings.backoff, maximum=5.0)
        )  # Retry-After is honoured up to it
        async with RegistryClient(settings) as client:
            started = time.monotonic()
            pages = [page async for page in client.catalog()]
            waited = time.monotonic() - started
    assert pages == [] and busy.hits == 1
    statuses = [s.status for s in front.requests("GET", "^/v2/_catalog")]
    assert statuses[0] == 429 and statuses[-1] == 200
    assert waited >= 0.9, "the client waited as long as Retry-After asked, not its own 0.05 s"


async def test_connections_are_kept_alive_between_requests(tmp_path: Path) -> None:
    """A HEAD answer left unread would close its connection: one TCP (or TLS) setup per request."""
    image = build_image("keep", "alive")
    with LocalRegistry(tmp_path / "registry", users=USERS) as registry, RegistryFront(registry.url) as front:
        pusher = ApiPusher(registry.url, ("alice", "alice-pw"))
        async with pusher.client() as raw:
            await pusher.image(raw, "keep/app", "1.0", image)
        settings = fast(RegistrySettings(url=front.url, username="alice", password="alice-pw"))
        async with RegistryClient(settings) as client:
            for _ in range(20):
                assert await client.head_manifest("keep/app", "1.0") is not None
    heads = front.requests("HEAD", "^/v2/keep/app/manifests/")
    assert len(heads) == 21 and len({s.peer for s in heads}) == 1  # the first HEAD learns basic auth
