"""Who may preview and apply a cleanup, against a real server over a real store: the preview
is a read (viewers too), the apply is for admins only; both need the CSRF token and the
dashboard's origin when they come from a browser session; an apply is refused (503) on a
dashboard without a registry, and a body that is not a plan (400), before anything is
recorded or deleted; a registry that cannot be reached stops an apply already recorded
(502, with what was done)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import orjson

from consumers.dashboard.api_cleanup import NO_REGISTRY
from consumers.registry_api import RegistrySettings
from devstack.ports import free_port
from tests.consumers.dashboard.access import (
    ADMIN,
    VIEWER,
    audit_rows,
    bearer,
    page_csrf_token,
    secured,
    sign_in,
)
from tests.consumers.dashboard.lifecycle_store import NOW, lifecycle_store
from tests.consumers.dashboard.server import running_dashboard
from tests.consumers.dashboard.test_lifecycle_api import POLICY

PREVIEW, APPLY = "/api/v1/lifecycle/cleanup/preview", "/api/v1/lifecycle/cleanup/apply"


async def a_plan(client: httpx.AsyncClient) -> bytes:
    answer = await client.post(PREVIEW, content=POLICY, headers=bearer(VIEWER))
    assert answer.status_code == 200, answer.text
    return answer.content


async def test_apply_is_for_admins_and_needs_a_registry(tmp_path: Path) -> None:
    url = await lifecycle_store(f"sqlite:///{tmp_path}/store.db")
    async with running_dashboard(secured(url), NOW) as base, httpx.AsyncClient(base_url=base) as client:
        plan = await a_plan(client)
        refused = await client.post(APPLY, content=plan, headers=bearer(VIEWER))
        assert refused.status_code == 403 and "needs the admin role" in refused.json()["detail"]
        assert (await client.post(APPLY, content=plan)).status_code == 401
        unavailable = await client.post(APPLY, content=plan, headers=bearer(ADMIN))
        assert (unavailable.status_code, unavailable.json()["detail"]) == (503, NO_REGISTRY)
        assert (
            await client.get("/api/v1/summary", headers=bearer(VIEWER))
        ).status_code == 200  # the rest serves
    assert await audit_rows(url) == []  # nothing was done, so nothing is recorded


async def test_a_body_that_is_not_a_plan_is_refused_before_anything_is_recorded(tmp_path: Path) -> None:
    url = await lifecycle_store(f"sqlite:///{tmp_path}/store.db")
    nowhere = RegistrySettings(url="http://127.0.0.1:9", attempts=1)  # never reached
    settings = dataclasses.replace(secured(url), registry=nowhere)
    async with running_dashboard(settings, NOW) as base, httpx.AsyncClient(base_url=base) as client:
        document = orjson.loads(await a_plan(client))
        for body, expected in [
            (b"not json", "the plan: not a plan (not JSON"),
            (b'{"delete": []}', "the plan: not a plan made by"),
            (orjson.dumps({**document, "version": 9}), "the plan: a plan of version 9"),
            (orjson.dumps({**document, "delete": [{"repository": "team/app"}]}), "delete[0]."),
        ]:
            answer = await client.post(APPLY, content=body, headers=bearer(ADMIN))
            assert answer.status_code == 400 and expected in answer.json()["detail"], (body[:40], answer.text)
    assert await audit_rows(url) == []


async def test_a_browser_session_needs_the_csrf_token_to_preview_and_to_apply(tmp_path: Path) -> None:
    url = await lifecycle_store(f"sqlite:///{tmp_path}/store.db")
    async with running_dashboard(secured(url), NOW) as base:
        origin = {"Origin": base.rstrip("/")}
        async with httpx.AsyncClient(base_url=base) as admin, httpx.AsyncClient(base_url=base) as viewer:
            plan = await a_plan(admin)
            await sign_in(admin, ADMIN)
            await sign_in(viewer, VIEWER)
            admin_page, viewer_page = (await admin.get("/")).text, (await viewer.get("/")).text
            assert '<meta name="role" content="admin">' in admin_page
            assert '<meta name="role" content="viewer">' in viewer_page
            admin_token = {**origin, "X-CSRF-Token": page_csrf_token(admin_page)}
            viewer_token = {**origin, "X-CSRF-Token": page_csrf_token(viewer_page)}

            assert (await viewer.post(PREVIEW, content=POLICY, headers=origin)).status_code == 403
            other_site = {**viewer_token, "Origin": "http://evil.example"}
            assert (await viewer.post(PREVIEW, content=POLICY, headers=other_site)).status_code == 403
            assert (await viewer.post(PREVIEW, content=POLICY, headers=viewer_token)).status_code == 200
            assert (await viewer.post(APPLY, content=plan, headers=viewer_token)).status_code == 403

            refused = await admin.post(APPLY, content=plan, headers=origin)
            assert refused.status_code == 403 and "CSRF token" in refused.json()["detail"]
            assert (
                await admin.post(APPLY, content=plan, headers=admin_token)
            ).status_code == 503  # no registry
    assert await audit_rows(url) == []


async def test_an_unreachable_registry_stops_an_apply_that_was_recorded_first(tmp_path: Path) -> None:
    url = await lifecycle_store(f"sqlite:///{tmp_path}/store.db")
    closed = RegistrySettings(url=f"http://127.0.0.1:{free_port()}", attempts=1, timeout=2)
    settings = dataclasses.replace(secured(url), registry=closed)
    async with running_dashboard(settings, NOW) as base, httpx.AsyncClient(base_url=base) as client:
        answer = await client.post(APPLY, content=await a_plan(client), headers=bearer(ADMIN), timeout=30)
    assert answer.status_code == 502, answer.text
    body = answer.json()
    assert body["detail"].startswith("the cleanup stopped: ") and body["stopped"] in body["detail"]
    assert (body["status"], body["planned"], body["deleted"]) == ("stopped", 2, 0)
    [row] = await audit_rows(url)  # written before the first request to the registry
    assert (row["action"], row["event_id"]) == ("dashboard.cleanup.apply", body["audit_event_id"])
