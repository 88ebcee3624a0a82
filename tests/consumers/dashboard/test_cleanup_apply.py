"""The cleanup applied from the dashboard against the real registry (docker-registry 2.8.2,
deletes enabled, htpasswd): the store of ``lifecycle_store`` and a registry holding the same
images; an admin previews, then applies through a browser session with the CSRF token.
Exactly the planned manifests are gone from the registry (checked through its API), the
audit log has the apply with its user before the registry's own deletes come back, and
applying the same plan again deletes nothing twice."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from consumers.registry_api import RegistrySettings
from tests.consumers.dashboard.access import (
    ADMIN,
    audit_rows,
    bearer,
    fingerprint,
    page_csrf_token,
    secured,
    sign_in,
)
from tests.consumers.dashboard.lifecycle_store import IMAGES, NOW, digest, image_bytes, lifecycle_store
from tests.consumers.dashboard.server import running_dashboard
from tests.consumers.dashboard.test_lifecycle_api import POLICY
from tests.support.pusher import ApiPusher, push_sync
from tests.support.registry import LocalRegistry

PUSHER = ("alice", "alice-pw")
PLACED = [
    ("team/lib", "d", "latest"),
    ("team/app", "a", "v1"),
    ("team/app", "c", None),
    ("team/app", "b", "v2"),
]


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[LocalRegistry]:
    """The registry holding what the store says was pushed (``lifecycle_store.EVENTS``)."""

    async def fill(url: str) -> None:
        pusher = ApiPusher(url, PUSHER)
        async with pusher.client() as client:
            for repository, name, tag in PLACED:
                await pusher.image(client, repository, tag, IMAGES[name])

    with LocalRegistry(tmp_path / "registry", users=dict([PUSHER])) as running:
        push_sync(fill(running.url))
        yield running


def present(registry: LocalRegistry, repository: str, name: str) -> bool:
    answer = httpx.head(
        f"{registry.url}/v2/{repository}/manifests/{digest(name)}",
        auth=PUSHER,
        headers={"Accept": IMAGES[name].manifest.media_type},
    )
    assert answer.status_code in (200, 404), answer.status_code
    return answer.status_code == 200


async def test_an_admin_applies_a_previewed_plan_to_the_real_registry(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    url = await lifecycle_store(f"sqlite:///{tmp_path}/store.db")
    target = RegistrySettings(url=registry.url, username=PUSHER[0], password=PUSHER[1], max_rps=20)
    settings = dataclasses.replace(secured(url), registry=target)
    async with (
        running_dashboard(settings, NOW) as base,
        httpx.AsyncClient(base_url=base, timeout=60) as client,
    ):
        plan = await client.post("/api/v1/lifecycle/cleanup/preview", content=POLICY, headers=bearer(ADMIN))
        assert plan.status_code == 200, plan.text
        assert sorted(d["digest"] for d in plan.json()["delete"]) == sorted(digest(n) for n in "ac")
        await sign_in(client, ADMIN)
        csrf = {"Origin": base.rstrip("/"), "X-CSRF-Token": page_csrf_token((await client.get("/")).text)}
        applied = await client.post("/api/v1/lifecycle/cleanup/apply", content=plan.content, headers=csrf)
        assert applied.status_code == 200, applied.text
        summary = applied.json()
        assert (summary["status"], summary["planned"], summary["deleted"]) == ("ok", 2, 2)
        assert summary["bytes_freed_planned"] == image_bytes("a") + image_bytes("c")
        assert [name for repository, name, _ in PLACED if present(registry, repository, name)] == ["d", "b"]

        again = await client.post("/api/v1/lifecycle/cleanup/apply", content=plan.content, headers=csrf)
        assert again.status_code == 200, again.text
        assert (again.json()["deleted"], again.json()["already_gone"]) == (0, 2)  # nothing twice

    rows = await audit_rows(url)
    assert [(r["action"], r["actor"], r["raw"]["via"]) for r in rows] == [
        ("dashboard.cleanup.apply", f"token-{fingerprint(ADMIN)}", "session")
    ] * 2
    assert [r["event_id"] for r in rows] == [summary["audit_event_id"], again.json()["audit_event_id"]]
    details = rows[0]["raw"]["details"]
    assert (details["planned"], details["bytes_freed"]) == (2, summary["bytes_freed_planned"])
    assert details["policy_sha256"] == orjson.loads(plan.content)["policy"]["sha256"]
