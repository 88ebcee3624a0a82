"""Signing in to the dashboard in headless Chromium, over HTTPS, under the page's real
Content-Security-Policy: the page sends a signed-out browser to the sign-in form, a wrong
token is refused, a right one shows the charts of a store filled by the real pipeline;
the session cookie is HttpOnly, Secure, SameSite=Strict and expiring; a form on another
site cannot sign the user out; signing out ends the session. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.async_api import BrowserContext, Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from common.environ import Environ
from common.tls import DASHBOARD_TLS, ServerTLS
from consumers.dashboard.access import COOKIE
from tests.consumers.conftest import MakeSettings
from tests.consumers.dashboard.access import NOW, VIEWER, secured
from tests.consumers.dashboard.browser import chromium
from tests.consumers.dashboard.pipeline import populate_store
from tests.consumers.dashboard.server import running_dashboard
from tests.consumers.dashboard.test_page import VIEWPORT, check_charts
from tests.support.certs import make_certificates
from tests.support.database import migrate_store

ATTACKER = "127.0.0.2"  # another site: cookies and origins are per host, and SameSite per site


def tls_settings(database_url: str, certs_dir: Path) -> Any:
    certs = make_certificates(certs_dir)
    tls = ServerTLS.from_environ(
        Environ(
            {
                "REGBRIDGE_DASHBOARD_TLS_CERT_FILE": str(certs.server_cert),
                "REGBRIDGE_DASHBOARD_TLS_KEY_FILE": str(certs.server_key),
            }
        ),
        DASHBOARD_TLS,
    )
    settings = secured(database_url)
    access = dataclasses.replace(settings.access, secure_cookies=True)
    return dataclasses.replace(settings, tls=tls, access=access)


@asynccontextmanager
async def attacker_site(target: str) -> AsyncIterator[str]:
    """A page on another site with a form that posts to the dashboard's sign-out (a CSRF
    attempt: it needs no script, the user only clicks)."""

    async def page(request: Request) -> HTMLResponse:
        form = (
            f'<form method="post" action="{target}signout"><input type="hidden" name="csrf_token"'
            ' value="guessed"><button id="win" type="submit">You won a prize</button></form>'
        )
        return HTMLResponse(f"<!doctype html><title>prize</title>{form}")

    sock = socket.socket()
    sock.bind((ATTACKER, 0))
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/", page)]), log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(100):
            if server.started:
                break
            await asyncio.sleep(0.1)
        yield f"http://{ATTACKER}:{sock.getsockname()[1]}/"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        sock.close()


def watch(page: Page) -> list[str]:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    return problems


async def check_session_cookie(context: BrowserContext) -> None:
    (cookie,) = [c for c in await context.cookies() if c["name"] == COOKIE]
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, True, "Strict")
    assert VIEWER not in cookie["value"]
    assert abs(cookie["expires"] - (time.time() + 8 * 3600)) < 120  # expires with the session


async def sign_in_through_the_form(page: Page, base: str, artifacts: Path) -> None:
    await page.goto(base + "#range=1h&refresh=0")
    await expect(page).to_have_url(re.compile(r"/signin\?next=/#range=1h&refresh=0$"))
    await page.fill("#token", VIEWER[:-1] + "X")
    await page.click("#signin button")
    await expect(page.locator("#refused")).to_have_text("That token is not accepted.")
    await page.screenshot(path=artifacts / "dashboard-signin-refused.png")
    await page.fill("#token", VIEWER)
    await page.click("#signin button")
    await expect(page).to_have_url(base + "#range=1h&refresh=0")  # back where it was sent from
    await expect(page.locator("#status")).to_have_text(re.compile(r"^updated"), timeout=30_000)


@pytest.mark.kafka
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sign_in_see_the_charts_and_sign_out(
    make_settings: MakeSettings, fixture_session: list[dict[str, Any]], artifacts_dir: Path, tmp_path: Path
) -> None:
    url = await populate_store(make_settings, fixture_session)
    settings = tls_settings(url, tmp_path / "certs")
    async with (
        running_dashboard(settings, NOW) as base,
        attacker_site(base) as elsewhere,
        chromium() as browser,
    ):
        context = await browser.new_context(viewport=VIEWPORT, ignore_https_errors=True)
        page = await context.new_page()
        problems = watch(page)
        await sign_in_through_the_form(page, base, artifacts_dir)
        await check_charts(page)
        await expect(page.locator("#who")).to_have_text(re.compile(r"^token-[0-9a-f]{8} · viewer$"))
        await check_session_cookie(context)
        await page.screenshot(path=artifacts_dir / "dashboard-signed-in.png", full_page=True)

        # Another site's form, posted by the signed-in browser, is refused; the session stays.
        trap = await context.new_page()
        await trap.goto(elsewhere)
        async with trap.expect_response(base + "signout") as refused:
            await trap.click("#win")
        assert (await refused.value).status == 403
        await trap.close()
        await page.reload()
        await expect(page.locator("#status")).to_have_text(re.compile(r"^updated"), timeout=30_000)

        await page.click("#signout")
        await expect(page).to_have_url(base + "signin")
        assert [c for c in await context.cookies() if c["name"] == COOKIE] == []
        status = await page.evaluate("fetch('api/v1/summary').then((r) => r.status)")
        assert status == 401
        await page.goto(base)
        await expect(page).to_have_url(re.compile(r"/signin\?next=/$"))
        await page.screenshot(path=artifacts_dir / "dashboard-signin.png")
        assert problems == []


async def test_the_anonymous_demo_shows_its_banner(tmp_path: Path, artifacts_dir: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    await migrate_store(url)
    anonymous = secured(url, viewer_tokens=(), admin_tokens=())
    async with running_dashboard(anonymous, NOW) as base, chromium() as browser:
        page = await browser.new_page(viewport=VIEWPORT)
        problems = watch(page)
        await page.goto(base)
        await expect(page.locator("#status")).to_have_text(re.compile(r"^updated"), timeout=30_000)
        await expect(page.locator("#anonymous")).to_contain_text("Anonymous access")
        await expect(page.locator("#who")).to_have_text("anonymous · viewer")
        await page.screenshot(path=artifacts_dir / "dashboard-anonymous.png")
        assert problems == []
