"""The page in headless Chromium over one store for the whole module: the captured session
plus anonymous traffic with long names (``demo_traffic``), replayed through the real
bridge, broker and consumers, and heartbeats saying the pipeline was down 02:07 to 02:09.
At 1400 px and at phone width (390 px):

* the repository filter narrows every tile and table;
* the Requests chart has one y axis (bar heights compare), every value is a bar inside its
  own bucket, and the two charts' plots line up;
* no word breaks in the middle, and nothing scrolls sideways at 390 px;
* the stretch where the pipeline was down is shaded and said;
* the lifecycle view (over the store of ``lifecycle_store``, in the same browser): a
  repository's tags and manifests, the stale images, storage, a cleanup preview and its
  policy errors; admins are offered Apply, confirm it, and see the server's answer;
  viewers are not offered it;
* live mode reloads as soon as a consumer stores something, and asks nothing while the
  tab is hidden (this test adds an event: it runs last).

Screenshots: test-artifacts/dashboard-overview.png (docs/images/dashboard.png),
dashboard-phone.png, dashboard-lifecycle.png (docs/images/dashboard-lifecycle.png) and
dashboard-lifecycle-phone.png.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, ViewportSize, expect

from consumers.dashboard.access import AccessSettings, Role
from consumers.dashboard.settings import DashboardSettings
from consumers.store import uptime
from consumers.store.engine import create_engine
from tests.consumers.conftest import MakeSettings, settings_maker
from tests.consumers.dashboard import probes
from tests.consumers.dashboard import session_facts as facts
from tests.consumers.dashboard.browser import chromium
from tests.consumers.dashboard.demo_traffic import MANIFEST, anonymous_session, post
from tests.consumers.dashboard.lifecycle_store import lifecycle_store
from tests.consumers.dashboard.pipeline import populate_store
from tests.consumers.dashboard.server import dashboard_server, running_dashboard
from tests.consumers.dashboard.test_lifecycle_api import POLICY
from tests.support.broker import BrokerUnderTest
from tests.support.consumers import running, wait_processed
from tests.support.database import migrate_store, processed_count
from tests.support.events import OCI_MANIFEST, event
from tests.support.replay import post_session

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="module")]

NOW = datetime(2026, 11, 29, 2, 10, tzinfo=UTC)
WIDE: ViewportSize = {"width": 1400, "height": 1000}
PHONE: ViewportSize = {"width": 390, "height": 844}
PULLS_BLUE, PUSHES_ORANGE, BYTES_GREEN = (47, 111, 222), (224, 122, 16), (30, 158, 106)
DOWN_PINK = (251, 234, 234)  # rgba(201, 58, 58, 0.10) over white
DASH = "\u2013"  # an en dash: the page writes stretches of time as 02:07-02:09 with it
# Both consumers ran from 01:00, stopped after 02:06:50 and came back at 02:09: 02:07 and
# 02:08 had no heartbeat.
RUNS = [("01:00:00", "02:06:50"), ("02:09:00", "02:09:55")]
DOWN_SINCE, DOWN_UNTIL = datetime(2026, 11, 29, 2, 7, tzinfo=UTC), datetime(2026, 11, 29, 2, 9, tzinfo=UTC)


@dataclass
class Views:
    base: str
    browser: Browser
    store_url: str
    make: MakeSettings
    events: list[facts.Ev]
    next_seq: int


async def write_heartbeats(url: str) -> None:
    engine = create_engine(url, writer=True)
    try:
        async with engine.begin() as connection:
            for handler in ("pull", "push"):
                for started, seen in RUNS:
                    since, last = (datetime.fromisoformat(f"2026-11-29T{t}") for t in (started, seen))
                    await uptime.open_run(connection, handler, "demo-host:4242", since)
                    await uptime.extend_run(connection, handler, "demo-host:4242", since, last)
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def views(
    broker: BrokerUnderTest, fixture_session: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Views]:
    url = f"sqlite:///{tmp_path_factory.mktemp('views') / 'store.db'}"
    await migrate_store(url)
    prefix = f"tviews{datetime.now(UTC):%H%M%S%f}.registry.events"
    make = settings_maker(broker.bootstrap_servers, prefix, url)
    session = [*fixture_session, *anonymous_session(len(fixture_session) + 1)]
    await populate_store(make, session)
    await write_heartbeats(url)
    async with dashboard_server(url, NOW, refresh_seconds=0, live_seconds=1) as base, chromium() as browser:
        yield Views(base, browser, url, make, facts.unique_events(session), len(session) + 1)


async def open_page(views: Views, hash_: str, viewport: ViewportSize = WIDE, base: str | None = None) -> Page:
    context = await views.browser.new_context(viewport=viewport, timezone_id="UTC")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await page.goto((base or views.base) + hash_)
    await expect(page.locator("#status")).to_have_text(re.compile(r"updated"), timeout=30_000)
    assert errors == []
    return page


async def rows(page: Page, section: str) -> list[str]:
    return await page.locator(f"#{section} tbody tr").all_inner_texts()


async def tile(page: Page, name: str) -> str:
    return (await page.locator(f'[data-tile="{name}"]').inner_text()).strip()


def at_x(moment: datetime, width: int) -> float:
    """Where ``moment`` is in a plot of the last hour before NOW, ``width`` pixels wide."""
    return (moment - (NOW - timedelta(hours=1))) / timedelta(hours=1) * width


def pink(pixel: tuple[int, int, int]) -> bool:
    return all(abs(pixel[c] - DOWN_PINK[c]) <= 8 for c in range(3))


def bucket_of(bar: probes.Bar, plot: probes.Bars, buckets: int) -> set[int]:
    per_bucket = plot.width / buckets
    return {int(bar.x0 // per_bucket), int(bar.x1 // per_bucket)}


async def test_the_repository_filter_narrows_every_tile_and_table(views: Views) -> None:
    page = await open_page(views, "#range=1h&refresh=0&repository=team/copy")
    mine = [e for e in views.events if e.repository == "team/copy"]
    pulled, pushed = facts.pull_counters(facts.pulls(mine)), facts.push_events(mine)
    assert await tile(page, "pulls") == str(pulled["requests"])
    assert await tile(page, "pushes") == str(len(pushed))
    assert await tile(page, "deletes") == str(sum(1 for e in mine if e.action == "delete"))
    assert await tile(page, "repositories") == "1"
    assert await tile(page, "repositories-sub") == "1 pulled in range"
    assert [r.split("\t")[0] for r in await rows(page, "repositories")] == ["team/copy"]
    assert [r.split("\t")[0] for r in await rows(page, "top-images")] == ["team/copy"]
    assert len(await rows(page, "top-clients")) == len(facts.top_clients(mine))
    assert all("team/copy" in r for r in await rows(page, "audit")) and len(await rows(page, "audit")) == len(
        facts.audited(mine)
    )
    assert await page.locator("#recent-pushes .empty").is_visible()  # its only manifest was deleted
    everyone = {e.repository for e in views.events if e.action != "pull"}
    options = await page.locator("#repository option").all_inner_texts()
    assert sorted(options[1:]) == sorted(everyone), "the picker still offers every repository"


async def test_pulls_and_pushes_share_one_axis(views: Views) -> None:
    page = await open_page(views, "#range=1h&refresh=0&repository=team/copy")
    mine = [e for e in views.events if e.repository == "team/copy"]
    most_pulls = max(facts.per_minute(facts.pulls(mine)).values())
    most_pushes = max(facts.per_minute(facts.push_events(mine)).values())
    assert most_pulls != most_pushes, "the check needs two different heights"
    blue = max(b.height for b in (await probes.bars(page, "#chart-requests", PULLS_BLUE)).tall())
    orange = max(b.height for b in (await probes.bars(page, "#chart-requests", PUSHES_ORANGE)).tall())
    assert abs(blue / orange - most_pulls / most_pushes) < 0.08, (blue, orange, most_pulls, most_pushes)


async def test_each_value_is_a_bar_inside_its_bucket_and_the_plots_line_up(views: Views) -> None:
    page = await open_page(views, "#range=1h&refresh=0")
    requests = await probes.plot_box(page, "#chart-requests")
    transferred = await probes.plot_box(page, "#chart-bytes")
    assert abs(requests[0] - transferred[0]) < 1 and abs(requests[1] - transferred[1]) < 1, (
        requests,
        transferred,
    )
    green = await probes.bars(page, "#chart-bytes", BYTES_GREEN)
    starts = [NOW - timedelta(minutes=60 - i) for i in range(60)]
    with_bytes = {
        starts.index(minute)
        for minute, _ in facts.per_minute(e for e in facts.pulls(views.events) if e.method == "GET").items()
    }
    drawn = [bucket_of(bar, green, len(starts)) for bar in green.tall()]
    assert drawn and all(len(b) == 1 for b in drawn), f"a bar crosses a bucket edge: {drawn}"
    assert set().union(*drawn) == with_bytes


async def test_the_pipeline_down_is_shaded_and_said(views: Views, artifacts_dir: Path) -> None:
    page = await open_page(views, "#range=1h&refresh=0")
    await expect(page.locator("#pipeline-down")).to_be_visible()
    assert f"02:07{DASH}02:09 (pull and push)" in await page.locator("#pipeline-down").inner_text()
    for chart in ("#chart-requests", "#chart-bytes"):
        row = await probes.plot_row(page, chart, 0.5)
        start, end = (int(at_x(moment, len(row))) for moment in (DOWN_SINCE, DOWN_UNTIL))
        inside, outside = row[start + 2 : end - 2], row[: start - 2] + row[end + 2 :]
        assert inside and sum(map(pink, inside)) >= 0.9 * len(inside), chart
        assert sum(map(pink, outside)) <= 0.01 * len(outside), chart
    await page.screenshot(path=artifacts_dir / "dashboard-overview.png", full_page=True)


async def test_no_word_breaks_in_the_middle_at_1400_px(views: Views) -> None:
    page = await open_page(views, "#range=1h&refresh=0")
    assert "anonymous" in " ".join(await rows(page, "audit"))
    assert await probes.broken_words(page) == []
    assert await probes.sideways_overflow(page) == []


async def test_at_phone_width_nothing_scrolls_sideways_or_breaks_mid_word(
    views: Views, artifacts_dir: Path
) -> None:
    for hash_ in ("#range=1h&refresh=0", "#range=1h&refresh=0&repository=demo/hello"):
        page = await open_page(views, hash_, PHONE)
        assert await probes.sideways_overflow(page) == [], hash_
        assert await probes.broken_words(page) == [], hash_
        assert await page.locator("#chart-requests canvas").count() == 1
    page = await open_page(views, "#range=1h&refresh=0", PHONE)
    await page.screenshot(path=artifacts_dir / "dashboard-phone.png", full_page=True)


def anonymous(url: str, role: Role) -> DashboardSettings:
    return DashboardSettings(database_url=url, access=AccessSettings(anonymous_role=role), live_seconds=0)


async def check_repository_view(page: Page) -> None:
    assert await page.locator("#load-view").is_hidden()
    assert await page.locator('#views [data-view="lifecycle"]').get_attribute("aria-pressed") == "true"
    await expect(page.locator("#repo-lifecycle-name")).to_have_text("team/app")
    assert "1 untagged" in await page.locator("#repo-lifecycle-summary").inner_text()
    tags = await rows(page, "repo-tags")
    assert [r.split("\t")[0] for r in tags] == ["v2", "v1"]
    assert tags[0].split("\t")[-3:] == ["3", "3", "3"] and "never" not in tags[0]  # 2 GETs and a HEAD
    manifests = await rows(page, "repo-manifests")
    assert [r.split("\t")[1] for r in manifests] == ["v2", "untagged", "v1"]
    assert manifests[1].split("\t")[-1] == "never"
    assert await page.locator("#chart-repo canvas").count() == 1


async def check_stale_and_storage(page: Page) -> None:
    stale = [r.split("\t")[0] for r in await rows(page, "stale")]
    assert [name.split("@")[0].split(":")[0] for name in stale] == ["team/app", "team/lib", "team/app"]
    assert stale[1:] == ["team/lib:latest", "team/app:v1"] and "@sha256:" in stale[0]  # c is untagged
    assert [r.split("\t")[0] for r in await rows(page, "storage")] == ["team/app", "team/lib"]
    assert "in the registry" in await page.locator("#storage-total").inner_text()


async def preview(page: Page, policy: str) -> None:
    await page.fill("#cleanup-policy", policy)
    await page.click("#cleanup-preview")


async def test_the_lifecycle_view_and_its_cleanup_preview(
    views: Views, tmp_path: Path, artifacts_dir: Path
) -> None:
    url = await lifecycle_store(f"sqlite:///{tmp_path}/lifecycle.db")
    hash_ = "#view=lifecycle&range=30d&refresh=0&repository=team/app"
    async with running_dashboard(anonymous(url, Role.ADMIN), NOW) as base:
        page = await open_page(views, hash_, base=base)
        await check_repository_view(page)
        await check_stale_and_storage(page)

        await preview(page, POLICY.replace("keep_last_pushed: 1", "keep_last_pushed: two"))
        wrong = page.locator("#cleanup-error")
        await expect(wrong).to_contain_text("the policy:3: rules[0].keep_last_pushed")
        assert await page.locator("#cleanup-result").is_hidden()
        await preview(page, POLICY)
        await expect(page.locator("#cleanup-summary")).to_contain_text("2 manifests would be deleted")
        assert (len(await rows(page, "cleanup-delete")), len(await rows(page, "cleanup-keep"))) == (2, 2)
        await expect(page.locator("#cleanup-apply")).to_have_text("Apply: delete 2 manifests")
        await page.evaluate("() => window.scrollTo(0, 0)")  # the sticky header back on top
        await page.screenshot(path=artifacts_dir / "dashboard-lifecycle.png", full_page=True)

        asked: list[str] = []

        async def accept(dialog: Any) -> None:
            asked.append(dialog.message)
            await dialog.accept()

        page.once("dialog", accept)
        await page.click("#cleanup-apply")
        # this dashboard has no registry: the server's refusal is shown, nothing was applied
        await expect(page.locator("#cleanup-error")).to_contain_text("REGBRIDGE_REGISTRY_URL")
        assert asked == ["Delete 2 manifests from the registry? This cannot be undone."]
        assert await page.locator("#cleanup-applied").is_hidden()

        phone = await open_page(views, hash_, PHONE, base=base)
        assert await probes.sideways_overflow(phone) == []
        await phone.screenshot(path=artifacts_dir / "dashboard-lifecycle-phone.png", full_page=True)
    async with running_dashboard(anonymous(url, Role.VIEWER), NOW) as base:
        page = await open_page(views, hash_, base=base)
        await preview(page, POLICY)
        await expect(page.locator("#cleanup-summary")).to_contain_text("2 manifests would be deleted")
        assert await page.locator("#cleanup-apply").is_hidden()  # a viewer is not offered it


HIDE_TAB = """(hidden) => {
  const state = hidden ? "hidden" : "visible";
  Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


async def test_live_mode_reloads_when_a_consumer_stores_something(views: Views) -> None:
    """Runs last: it adds a push. The server's periodic reload is off (refresh_seconds=0),
    so only the live check can bring the new push to the page."""
    page = await open_page(views, "#range=1h")
    assert await page.locator("#refresh").input_value() == "live"
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url.split("?")[0].split("/api/v1/")[-1]))
    await page.wait_for_timeout(2500)
    assert asked and set(asked) == {"changes"}, asked  # idle: only the cheap check, every second

    before = int(await tile(page, "pushes"))
    push = views.make("push")
    pushed = event(
        "push",
        "demo/hello",
        tag="v2",
        digest=MANIFEST,
        media_type=OCI_MANIFEST,
        size=529,
        method="PUT",
        actor=None,
        timestamp=datetime(2026, 11, 29, 2, 9, 30, tzinfo=UTC),
    )
    await post_session(push.kafka.bootstrap_servers, push.topic_prefix, [post(pushed, views.next_seq)])
    stored = await processed_count(views.store_url, "push")
    async with running(push):
        assert await wait_processed(views.store_url, "push", stored + 1) == stored + 1
    await expect(page.locator('[data-tile="pushes"]')).to_have_text(str(before + 1), timeout=10_000)

    await page.evaluate(HIDE_TAB, True)
    asked.clear()
    await page.wait_for_timeout(2500)
    assert asked == [], "a hidden tab asks nothing"
    async with page.expect_request(re.compile(r"/api/v1/summary")):
        await page.evaluate(HIDE_TAB, False)  # shown again: it reloads at once
