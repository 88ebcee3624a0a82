"""Access control of the dashboard, against a real server (uvicorn) over a real store:
every API route found in the OpenAPI document needs its role (so a route added later is
covered without touching this test), tokens rotate, sessions open and close, admin
actions are audited with their user, and state changes need the CSRF token."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Route
from starlette.types import Message

from consumers.dashboard import api
from consumers.dashboard.access import COOKIE, Role, admin, public, required_role, viewer
from consumers.dashboard.access.guard import Guard, GuardPolicy, guarded
from tests.consumers.dashboard.access import (
    ADMIN,
    NOW,
    REPOSITORY,
    VIEWER,
    VIEWER_NEXT,
    api_with_new_routes,
    audit_rows,
    bearer,
    change,
    echo,
    fingerprint,
    page_csrf_token,
    secured,
    sign_in,
    store_with_a_repository,
)
from tests.consumers.dashboard.server import running_dashboard

PATH_VALUES = {"name": REPOSITORY}  # a value for each path parameter the test has data for
SAFE = {"get", "head", "options"}


def concrete(path: str) -> tuple[str, bool]:
    """The path with its parameters filled in; True when a value had to be invented."""
    invented = any(name not in PATH_VALUES for name in re.findall(r"{(\w+)}", path))
    return re.sub(r"{(\w+)}", lambda m: PATH_VALUES.get(m.group(1), "unknown"), path), invented


async def walk(client: httpx.AsyncClient, document: dict[str, Any]) -> dict[str, str]:
    """Calls every operation without credentials, as a viewer and (reads only) as an admin;
    returns each operation's declared role."""
    roles: dict[str, str] = {}
    for path, operations in document["paths"].items():
        url, invented = concrete(path)
        for method, operation in operations.items():
            role, key = operation["x-required-role"], f"{method.upper()} {path}"
            roles[key] = role
            assert role in ("viewer", "admin"), f"{key} is {role}: every API route needs a role"
            anonymous = await client.request(method, url)
            assert anonymous.status_code == 401, key
            assert anonymous.headers["www-authenticate"].startswith("Bearer"), key
            allowed = {200, 400, 404} if invented else {200}
            if method not in SAFE:
                allowed = {200, 400}  # sent without the body it needs (a viewer's read-only POST)
            viewer = await client.request(method, url, headers=bearer(VIEWER))
            if role == "admin":
                assert viewer.status_code == 403, key
            else:
                assert viewer.status_code in allowed, (key, viewer.status_code, viewer.text)
            if method in SAFE:  # an admin reads too (writes are not sent: they would act)
                as_admin = await client.request(method, url, headers=bearer(ADMIN))
                assert as_admin.status_code in allowed, (key, as_admin.status_code)
    return roles


async def test_every_api_route_needs_a_role(tmp_path: Path) -> None:
    url = await store_with_a_repository(f"sqlite:///{tmp_path}/store.db")
    async with running_dashboard(secured(url), NOW) as base, httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/openapi.json")).status_code == 401
        document = (await client.get("/openapi.json", headers=bearer(VIEWER))).json()
        roles = await walk(client, document)
    assert len(roles) >= 12
    writes = {key: role for key, role in roles.items() if not key.startswith("GET ")}
    assert writes == {
        "POST /api/v1/lifecycle/cleanup/preview": "viewer",  # declared: it reads only
        "POST /api/v1/lifecycle/cleanup/apply": "admin",  # declared, and a POST anyway
    }
    assert {role for key, role in roles.items() if key.startswith("GET ")} == {"viewer"}


async def test_routes_a_feature_adds_are_covered_without_a_word_about_access(tmp_path: Path) -> None:
    url = await store_with_a_repository(f"sqlite:///{tmp_path}/store.db")
    settings = secured(url)
    async with (
        running_dashboard(settings, NOW, api_routes=api_with_new_routes()) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        document = (await client.get("/openapi.json", headers=bearer(VIEWER))).json()
        roles = await walk(client, document)
        assert roles["GET /api/v1/test/echo"] == "viewer"
        assert roles["POST /api/v1/test/change"] == "admin"  # a POST needs admin by default
        assert roles["GET /api/v1/test/secret"] == "admin"  # declared in the route list
        changed = await client.post("/api/v1/test/change", headers=bearer(ADMIN))
        assert changed.status_code == 200, changed.text
        assert (await client.get("/api/v1/test/secret", headers=bearer(ADMIN))).json() == {"ok": True}
        listed = (await client.get("/api/v1/audit", headers=bearer(VIEWER))).json()["items"]
    rows = await audit_rows(url)
    assert [(r["action"], r["actor"], r["method"], r["repository"]) for r in rows] == [
        ("dashboard.test.change", f"token-{fingerprint(ADMIN)}", "POST", REPOSITORY)
    ]
    assert rows[0]["raw"] == {
        "source": "dashboard",
        "user": f"token-{fingerprint(ADMIN)}",
        "role": "admin",
        "via": "token",
        "details": {"n": 1},
    }
    assert [item["event_id"] for item in listed] == [changed.json()["event_id"]]  # the trail shows it


async def test_both_tokens_of_a_rotation_work_and_a_dropped_one_stops(tmp_path: Path) -> None:
    url = await store_with_a_repository(f"sqlite:///{tmp_path}/store.db")
    settings = secured(url)
    async with running_dashboard(settings, NOW) as base, httpx.AsyncClient(base_url=base) as client:
        for token in (VIEWER, VIEWER_NEXT, ADMIN):
            assert (await client.get("/api/v1/summary", headers=bearer(token))).status_code == 200
        assert (await sign_in(client, VIEWER)).status_code == 303
        old_session = client.cookies[COOKIE]
        assert (await client.get("/api/v1/summary")).status_code == 200
    # The old token is removed and the dashboard restarted with the same session secret.
    rotated = secured(url, viewer_tokens=(VIEWER_NEXT,), session_secret=settings.access.session_secret)
    async with running_dashboard(rotated, NOW) as base, httpx.AsyncClient(base_url=base) as client:
        refused = await client.get("/api/v1/summary", headers=bearer(VIEWER))
        assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]
        assert (await client.get("/api/v1/summary", headers=bearer(VIEWER_NEXT))).status_code == 200
        client.cookies.set(COOKIE, old_session)
        assert (await client.get("/api/v1/summary")).status_code == 401  # its session died with it


async def test_a_session_opens_shows_who_and_closes(tmp_path: Path) -> None:
    url = await store_with_a_repository(f"sqlite:///{tmp_path}/store.db")
    async with running_dashboard(secured(url), NOW) as base, httpx.AsyncClient(base_url=base) as client:
        page = await client.get("/", headers={"Accept": "text/html"})
        assert (page.status_code, page.headers["location"]) == (303, "/signin?next=/")
        form = await client.get("/signin?next=/")
        assert form.status_code == 200 and 'name="token"' in form.text and COOKIE not in client.cookies
        wrong = await sign_in(client, VIEWER[:-1] + "X")
        assert wrong.status_code == 401 and "not accepted" in wrong.text and COOKIE not in client.cookies
        signed = await sign_in(client, ADMIN, "/#range=6h")
        assert (signed.status_code, signed.headers["location"]) == (303, "/#range=6h")
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=") and "httponly" in cookie and "samesite=strict" in cookie
        assert "Max-Age=28800" in cookie and "secure" not in cookie.lower()  # plain HTTP here
        assert ADMIN not in cookie
        page = await client.get("/")
        assert f"token-{fingerprint(ADMIN)} · admin" in page.text and 'id="signout"' in page.text
        token = page_csrf_token(page.text)
        stolen = client.cookies[COOKIE]
        origin = {"Origin": base.rstrip("/")}
        assert (await client.post("/signout", headers=origin)).status_code == 403  # no CSRF token
        out = await client.post("/signout", data={"csrf_token": token}, headers=origin)
        assert (out.status_code, out.headers["location"]) == (303, "/signin")
        assert COOKIE not in client.cookies
        assert (await client.get("/api/v1/summary")).status_code == 401
        client.cookies.set(COOKIE, stolen)  # a copy of the cookie kept from before the sign-out
        assert (await client.get("/api/v1/summary")).status_code == 401


async def test_admin_changes_through_a_session_need_the_csrf_token_and_the_origin(tmp_path: Path) -> None:
    url = await store_with_a_repository(f"sqlite:///{tmp_path}/store.db")
    async with (
        running_dashboard(secured(url), NOW, api_routes=api_with_new_routes()) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        await sign_in(client, ADMIN)
        token = page_csrf_token((await client.get("/")).text)
        same, other = {"Origin": base.rstrip("/")}, {"Origin": "http://evil.example"}
        attempts = [
            ({}, 403),  # neither
            (same, 403),  # no token
            ({"X-CSRF-Token": token}, 403),  # no origin
            ({**other, "X-CSRF-Token": token}, 403),  # another site
            ({**same, "X-CSRF-Token": token[:-1] + "x"}, 403),  # a wrong token
            ({"Referer": base + "page", "X-CSRF-Token": token}, 200),  # the Referer stands in for Origin
            ({**same, "X-CSRF-Token": token}, 200),
        ]
        statuses = [(await client.post("/api/v1/test/change", headers=h)).status_code for h, _ in attempts]
        assert statuses == [expected for _, expected in attempts]
        # A viewer's session: the role is checked before anything else.
        viewer = httpx.AsyncClient(base_url=base)
        async with viewer:
            await sign_in(viewer, VIEWER)
            viewer_token = page_csrf_token((await viewer.get("/")).text)
            refused = await viewer.post("/api/v1/test/change", headers={**same, "X-CSRF-Token": viewer_token})
            assert refused.status_code == 403 and "needs the admin role" in refused.json()["detail"]
    rows = await audit_rows(url)
    assert [(r["actor"], r["raw"]["via"]) for r in rows] == [(f"token-{fingerprint(ADMIN)}", "session")] * 2


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/%0a/x\n",
        "",
    ],
)
async def test_sign_in_never_redirects_to_another_site(tmp_path: Path, target: str) -> None:
    url = await store_with_a_repository(f"sqlite:///{tmp_path}/store.db")
    async with running_dashboard(secured(url), NOW) as base, httpx.AsyncClient(base_url=base) as client:
        signed = await sign_in(client, VIEWER, target)
        assert (signed.status_code, signed.headers["location"]) == (303, "/")
        again = await client.get("/signin", params={"next": target})  # signed in already
        assert (again.status_code, again.headers["location"]) == (303, "/")


async def test_the_anonymous_loopback_dashboard_is_a_viewer_with_a_banner(tmp_path: Path) -> None:
    url = await store_with_a_repository(f"sqlite:///{tmp_path}/store.db")
    settings = secured(url, viewer_tokens=(), admin_tokens=())
    async with (
        running_dashboard(settings, NOW, api_routes=api_with_new_routes()) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        page = await client.get("/")
        assert page.status_code == 200 and 'id="anonymous"' in page.text and "Anonymous access" in page.text
        assert (await client.get("/api/v1/summary")).status_code == 200
        assert (await client.get("/signin")).headers["location"] == "/"
        origin = {"Origin": base.rstrip("/"), "X-CSRF-Token": page_csrf_token(page.text)}
        assert (await client.post("/api/v1/test/change", headers=origin)).status_code == 403  # viewer only
        assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_a_wrong_bearer_token_is_not_retried_as_the_session_but_basic_is_not_ours(
    tmp_path: Path,
) -> None:
    url = await store_with_a_repository(f"sqlite:///{tmp_path}/store.db")
    async with running_dashboard(secured(url), NOW) as base, httpx.AsyncClient(base_url=base) as client:
        await sign_in(client, VIEWER)
        assert (await client.get("/api/v1/summary", headers=bearer("wrong-" + VIEWER))).status_code == 401
        basic = {"Authorization": "Basic YWxpY2U6c2VjcmV0"}  # a browser or proxy adds it unasked
        assert (await client.get("/api/v1/summary", headers=basic)).status_code == 200


async def test_a_declared_route_outside_the_guard_refuses_everything() -> None:
    route = public(Route("/open", echo, methods=["GET"]))  # declared, but never passed to guarded()
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/open", "headers": [], "query_string": b""}
    await route.handle(scope, receive, send)
    assert sent[0]["status"] == 500  # fails closed
    assert required_role(route, "GET") is None and required_role(route, "POST") is None
    assert required_role(admin(Route("/x", echo, methods=["GET"])), "GET") is Role.ADMIN
    assert required_role(viewer(Route("/v", echo, methods=["POST"])), "POST") is Role.VIEWER  # a read
    assert required_role(Route("/y", echo, methods=["GET", "DELETE"]), "DELETE") is Role.ADMIN
    # One route list can serve several apps: guarding copies the routes, each with its policy.
    listed = [route, Route("/z", echo, methods=["POST"])]
    first, second = guarded(listed, GuardPolicy(("https://a.example",))), guarded(listed, GuardPolicy())
    guards = [
        [r.app for r in apps if isinstance(r, Route) and isinstance(r.app, Guard)] for apps in (first, second)
    ]
    assert [len(g) for g in guards] == [2, 2] and not isinstance(listed[1].app, Guard)
    assert [g.policy.origins for g in guards[0]] == [("https://a.example",)] * 2
    assert [g.policy.origins for g in guards[1]] == [()] * 2
    assert required_role(first[0], "GET") is None and required_role(second[1], "POST") is Role.ADMIN


async def test_an_admin_action_on_a_route_declared_for_viewers_fails_and_writes_nothing(
    tmp_path: Path,
) -> None:
    url = await store_with_a_repository(f"sqlite:///{tmp_path}/store.db")
    misdeclared = [Route(api.PREFIX + "/test/misdeclared", change, methods=["GET"])]  # a bug: a GET that acts
    async with (
        running_dashboard(secured(url), NOW, api_routes=misdeclared) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        answer = await client.get("/api/v1/test/misdeclared", headers=bearer(VIEWER))
        assert answer.status_code == 500  # not 503: the store is fine, the route is wrong
        assert (await client.get("/api/v1/test/misdeclared", headers=bearer(ADMIN))).status_code == 200
    assert [r["actor"] for r in await audit_rows(url)] == [f"token-{fingerprint(ADMIN)}"]
