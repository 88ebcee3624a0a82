"""The page in headless Chromium, served by a real server: with the replayed session it
draws both charts and fills every table; over an empty store it shows the empty states.
Screenshots go to test-artifacts/.

The page runs under its Content-Security-Policy (no eval), so the tests wait with
Playwright's ``expect`` on locators, never ``wait_for_function`` with a string."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, ViewportSize, expect

from tests.consumers.conftest import MakeSettings
from tests.consumers.dashboard import session_facts as facts
from tests.consumers.dashboard.browser import chromium
from tests.consumers.dashboard.pipeline import populate_store
from tests.consumers.dashboard.server import dashboard_server
from tests.support.database import migrate_store

NOW = datetime(2026, 11, 29, 2, 10, tzinfo=UTC)
VIEWPORT: ViewportSize = {"width": 1400, "height": 1000}
# How many pixels of a chart's canvas are drawn in a series colour (r, g, b).
COLOURED_PIXELS = """([selector, rgb]) => {
  const canvas = document.querySelector(selector + " canvas");
  if (!canvas) return -1;
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    const near = [0, 1, 2].every((c) => Math.abs(data[i + c] - rgb[c]) < 40);
    if (near && data[i + 3] > 0) n++;
  }
  return n;
}"""
PULLS_BLUE, PUSHES_ORANGE, BYTES_GREEN = (47, 111, 222), (224, 122, 16), (30, 158, 106)


async def loaded(page: Page, url: str) -> None:
    await page.goto(url)
    await expect(page.locator("#status")).to_have_text(re.compile(r"^updated"), timeout=30_000)


async def rows(page: Page, section: str) -> list[str]:
    return await page.locator(f"#{section} tbody tr").all_inner_texts()


async def tile(page: Page, name: str) -> str:
    return (await page.locator(f'[data-tile="{name}"]').inner_text()).strip()


async def check_charts(page: Page) -> None:
    for selector, colour in (
        ("#chart-requests", PULLS_BLUE),
        ("#chart-requests", PUSHES_ORANGE),
        ("#chart-bytes", BYTES_GREEN),
    ):
        drawn = await page.evaluate(COLOURED_PIXELS, [selector, list(colour)])
        assert drawn > 50, f"{selector} has {drawn} pixels in {colour}"
    legend = await page.locator("#chart-requests .u-legend").inner_text()
    assert "Pull requests" in legend and "Pushes" in legend
    assert await page.locator("#chart-requests-empty").is_hidden()


async def check_tables(page: Page, events: list[facts.Ev]) -> None:
    counters = facts.pull_counters(facts.pulls(events))
    assert await tile(page, "pulls") == str(counters["requests"])
    assert await tile(page, "pushes") == str(len(facts.push_events(events)))
    top = await rows(page, "top-images")
    assert [r.split("\t")[0] for r in top] == ["team/hello", "team/copy"]
    assert len(await rows(page, "top-clients")) == len(facts.top_clients(events))
    manifests = [e for e in facts.listed_pushes(events) if not e.is_blob]
    pushes = await rows(page, "recent-pushes")
    assert len(pushes) == min(10, len(manifests)) and "team/hello:q3" in pushes[0]
    audit = await rows(page, "audit")
    assert len(audit) == len(facts.audited(events)) and "delete" in audit[0]
    assert [r.split("\t")[0] for r in await rows(page, "repositories")] == [
        "team/copy",
        "team/hello",
        "team/other",
    ]


@pytest.mark.kafka
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_page_draws_the_replayed_session(
    make_settings: MakeSettings, fixture_session: list[dict[str, Any]], artifacts_dir: Path
) -> None:
    url = await populate_store(make_settings, fixture_session)
    events = facts.unique_events(fixture_session)
    async with dashboard_server(url, NOW) as base, chromium() as browser:
        page = await browser.new_page(viewport=VIEWPORT)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        await loaded(page, base + "#range=1h&refresh=0")
        await check_charts(page)
        await check_tables(page, events)
        await page.screenshot(path=artifacts_dir / "dashboard-session.png", full_page=True)

        # A repository name narrows the page to it.
        await page.locator("#top-images a", has_text="team/copy").click()
        copy_pulls = sum(1 for e in facts.pulls(events) if e.repository == "team/copy")
        await expect(page.locator("[data-tile=pulls]")).to_have_text(str(copy_pulls), timeout=30_000)
        assert await page.locator("#repository").input_value() == "team/copy"
        assert [r.split("\t")[0] for r in await rows(page, "top-images")] == ["team/copy"]
        assert errors == []

        # The time-range picker: the last 15 minutes before 02:05 leave out the 02:06 pulls.
        page = await browser.new_page(viewport=VIEWPORT)
        await loaded(page, base + "#range=15m&until=2026-11-29T02:05:00Z&refresh=0")
        assert await page.locator('#ranges [data-range="15m"]').get_attribute("aria-pressed") == "true"
        before = [e for e in facts.pulls(events) if e.time < datetime(2026, 11, 29, 2, 5, tzinfo=UTC)]
        assert await tile(page, "pulls") == str(len(before))
        await page.screenshot(path=artifacts_dir / "dashboard-session-15m.png", full_page=True)


async def test_automatic_refresh_reloads_the_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    await migrate_store(url)
    async with dashboard_server(url, NOW) as base, chromium() as browser:
        page = await browser.new_page(viewport=VIEWPORT)
        seen: list[str] = []
        page.on(
            "request", lambda request: seen.append(request.url) if "/api/v1/summary" in request.url else None
        )
        await loaded(page, base + "#range=1h&refresh=1")
        for _ in range(100):  # bounded: the interval fires every second; wait for two more loads
            if len(seen) >= 3:
                break
            await page.wait_for_timeout(200)
        assert len(seen) >= 3, f"summary loaded {len(seen)} times"
        assert await page.locator("#refresh").input_value() == "1"


async def test_an_empty_store_shows_the_empty_states(tmp_path: Path, artifacts_dir: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    await migrate_store(url)
    async with dashboard_server(url, NOW) as base, chromium() as browser:
        page = await browser.new_page(viewport=VIEWPORT)
        await loaded(page, base)
        for section in ("top-images", "top-clients", "recent-pushes", "audit", "repositories"):
            assert await page.locator(f"#{section} .empty").is_visible(), section
            assert await rows(page, section) == []
        for chart in ("requests", "bytes"):
            assert await page.locator(f"#chart-{chart}-empty").is_visible()
            assert await page.locator(f"#chart-{chart} canvas").count() == 0
        assert await tile(page, "pulls") == "0"
        assert await page.locator("#error").is_hidden()
        await page.screenshot(path=artifacts_dir / "dashboard-empty.png", full_page=True)
        await page.goto(base + "#view=lifecycle")  # the lifecycle view says so too
        for section in ("stale", "storage"):
            await expect(page.locator(f"#{section} .empty")).to_be_visible()
        assert await page.locator("#repo-lifecycle-pick").is_visible()
        assert await page.locator("#cleanup-result").is_hidden()


async def test_a_store_that_does_not_answer_shows_an_error(tmp_path: Path, artifacts_dir: Path) -> None:
    url = f"sqlite:///{tmp_path}/never-migrated.db"
    async with dashboard_server(url, NOW) as base, chromium() as browser:
        page = await browser.new_page(viewport=VIEWPORT)
        await page.goto(base)
        await expect(page.locator("#status")).to_have_text("update failed", timeout=30_000)
        banner = await page.locator("#error").inner_text()
        assert "Could not load the data" in banner and "503" in banner
        await page.screenshot(path=artifacts_dir / "dashboard-store-down.png")
