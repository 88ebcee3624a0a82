"""What the cleanup tests share: a real registry (docker-registry 2.8.2, htpasswd) with
deletes enabled or disabled, a client of its API for ``apply``, plans written by hand
over what was pushed, and reading back what the registry still holds."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from common.contract import CLEANUP_USER_AGENT
from consumers.lifecycle.plan import Deletion, Plan
from consumers.registry_api import ACCEPT, RegistrySettings
from devstack.ociimage import BuiltImage
from tests.support.registry import LocalRegistry

PUSHER = ("alice", "alice-pw")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[LocalRegistry]:
    """A registry that allows deletes (``storage.delete.enabled: true``)."""
    with LocalRegistry(tmp_path / "registry", users=dict([PUSHER])) as started:
        yield started


@pytest.fixture
def no_delete_registry(tmp_path: Path) -> Iterator[LocalRegistry]:
    """A registry as distribution ships: deletes disabled (it answers 405)."""
    workdir = tmp_path / "registry-no-delete"
    config = LocalRegistry(workdir, users=dict([PUSHER])).config()
    config["storage"]["delete"] = {"enabled": False}
    with LocalRegistry(workdir, users=dict([PUSHER]), config=config) as started:
        yield started


def client_settings(url: str) -> RegistrySettings:
    """The registry at ``url`` (the registry's or a front's), as alice, fast retries, no rate limit."""
    settings = RegistrySettings(
        url=url,
        username=PUSHER[0],
        password=PUSHER[1],
        timeout=5.0,
        attempts=2,
        concurrency=1,
        max_rps=0.0,
        user_agent=CLEANUP_USER_AGENT,
    )
    return replace(settings, backoff=replace(settings.backoff, initial=0.05, maximum=0.2))


def entry(repository: str, image: BuiltImage, *tags: str, freed: int = 0) -> Deletion:
    return Deletion(
        repository=repository,
        digest=image.digest,
        tags=tags,
        reason="written by the test",
        bytes_freed=freed,
        last_pushed_at=datetime.now(UTC),
        media_type=image.manifest.media_type,
        rule="*",
    )


def hand_plan(*deletions: Deletion) -> Plan:
    return Plan(
        created_at=datetime.now(UTC),
        policy_source="test",
        policy_sha256="0" * 64,
        delete=deletions,
        keep=(),
        bytes_freed=sum(d.bytes_freed for d in deletions),
    )


def present(registry: LocalRegistry, repository: str, reference: str) -> int:
    """The status of ``HEAD /v2/<repository>/manifests/<reference>``: 200 or 404."""
    with httpx.Client(base_url=registry.url, auth=PUSHER, timeout=10.0) as client:
        head = client.head(f"/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT})
    return head.status_code


def tags_of(registry: LocalRegistry, repository: str) -> list[str]:
    with httpx.Client(base_url=registry.url, auth=PUSHER, timeout=10.0) as client:
        return sorted(client.get(f"/v2/{repository}/tags/list").json().get("tags") or [])
