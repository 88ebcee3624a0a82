"""Single sign-on through a reverse proxy, against a real server: the trusted user header
is believed from the proxy's address only. The test reaches the server from two loopback
addresses: 127.0.0.2 plays the proxy (``REGBRIDGE_DASHBOARD_TRUSTED_PROXIES``), 127.0.0.1
any other client on the network, each by binding its connections' source address."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import httpx
import pytest

from consumers.dashboard.access import ProxySettings
from tests.consumers.dashboard.access import (
    NOW,
    VIEWER,
    api_with_new_routes,
    audit_rows,
    bearer,
    secured,
    store_with_a_repository,
)
from tests.consumers.dashboard.server import running_dashboard

PROXY, ELSEWHERE = "127.0.0.2", "127.0.0.1"
USER, GROUPS = "X-Forwarded-User", "X-Forwarded-Groups"


def proxied(**roles: frozenset[str]) -> ProxySettings:
    """Users from X-Forwarded-User, groups from X-Forwarded-Groups (oauth2-proxy's names),
    believed from the proxy's address only."""
    trusted = (ipaddress.ip_network(f"{PROXY}/32"),)
    return ProxySettings(user_header=USER.lower(), groups_header=GROUPS.lower(), trusted=trusted, **roles)


def client_from(address: str, base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, transport=httpx.AsyncHTTPTransport(local_address=address))


async def test_the_user_header_counts_only_from_a_trusted_proxy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = await store_with_a_repository(f"sqlite:///{tmp_path}/store.db")
    proxy = proxied(admin_groups=frozenset({"registry-admins"}), viewer_groups=frozenset({"dev"}))
    settings = secured(url, proxy=proxy)
    async with (
        running_dashboard(settings, NOW, api_routes=api_with_new_routes()) as base,
        client_from(PROXY, base) as via_proxy,
        client_from(ELSEWHERE, base) as direct,
    ):
        alice = {USER: "alice", GROUPS: "dev"}
        with caplog.at_level(logging.WARNING, logger="consumers.dashboard.access"):
            spoofed = await direct.get("/api/v1/test/echo", headers=alice)
        assert spoofed.status_code == 401  # ignored: not from the proxy
        assert any("untrusted address ignored" in r.getMessage() for r in caplog.records)
        assert (await direct.get("/api/v1/test/echo", headers={**alice, **bearer(VIEWER)})).status_code == 200
        seen = await via_proxy.get("/api/v1/test/echo", headers=alice)
        assert (seen.status_code, seen.json()) == (200, {"user": "alice"})
        page = await via_proxy.get("/", headers=alice)
        assert "alice · viewer" in page.text and 'id="signout"' not in page.text  # the proxy signs out

        # Roles come from the group header; a user in no listed group has none.
        carol = {USER: "carol", GROUPS: "registry-admins, dev"}
        assert (await via_proxy.post("/api/v1/test/change", headers=carol)).status_code == 403  # no CSRF
        same = {"Origin": base.rstrip("/")}
        dave = await via_proxy.get("/api/v1/summary", headers={USER: "dave", GROUPS: "marketing"})
        assert dave.status_code == 403 and "no role" in dave.json()["detail"]
        assert (await via_proxy.get("/api/v1/summary")).status_code == 401  # the proxy sent no user
        overlong = {USER: "b" * 300}  # not a user name: refused, as if absent
        assert (await via_proxy.get("/api/v1/summary", headers=overlong)).status_code == 401
        # carol is an admin: a state change with the page's CSRF token (her session holds only that)
        page = await via_proxy.get("/", headers=carol)
        token = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        carols_change = {**carol, **same, "X-CSRF-Token": token, "X-Forwarded-For": "198.51.100.7"}
        changed = await via_proxy.post("/api/v1/test/change", headers=carols_change)
        assert changed.status_code == 200, changed.text
    (row,) = await audit_rows(url)
    assert (row["actor"], row["addr"], row["raw"]["via"]) == ("carol", PROXY, "proxy")
    assert row["raw"]["forwarded_for"] == "198.51.100.7"  # the user's address, as the proxy saw it


async def test_proxy_users_can_be_listed_by_name(tmp_path: Path) -> None:
    url = await store_with_a_repository(f"sqlite:///{tmp_path}/store.db")
    proxy = proxied(admin_users=frozenset({"root"}), viewer_users=frozenset({"erin"}))
    settings = secured(url, proxy=proxy, viewer_tokens=(), admin_tokens=())
    async with (
        running_dashboard(settings, NOW, api_routes=api_with_new_routes()) as base,
        client_from(PROXY, base) as via_proxy,
    ):
        assert (await via_proxy.get("/api/v1/test/secret", headers={USER: "root"})).status_code == 200
        assert (await via_proxy.get("/api/v1/test/secret", headers={USER: "erin"})).status_code == 403
        assert (await via_proxy.get("/api/v1/summary", headers={USER: "erin"})).status_code == 200
        assert (await via_proxy.get("/api/v1/summary", headers={USER: "frank"})).status_code == 403
        # without tokens the sign-in page only points at the proxy
        form = await via_proxy.get("/signin")
        assert "single sign-on proxy" in form.text
        assert '<form method="post" action="signin" id="signin" hidden>' in form.text
