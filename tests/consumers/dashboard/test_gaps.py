"""Gaps shown, not hidden: the API and the page show each registry restart the consumers saw
("events pending at that moment may be lost"), the last reconcile pass and what it repaired,
and that pull statistics cannot be reconstructed. On SQLite and PostgreSQL; the page in
headless Chromium (screenshot in test-artifacts/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import expect

from consumers.store.engine import create_engine
from consumers.store.tables import audit_log, reconcile_passes, registry_instances
from tests.consumers.dashboard.browser import chromium
from tests.consumers.dashboard.server import dashboard_server

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
T = datetime(2026, 12, 1, 11, 0)  # naive UTC, as the store keeps times
REPAIRS = {"tag_added": 1, "tag_moved": 0, "tag_removed": 1}


async def insert(connection: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for row in rows:  # one by one: the rows do not all set the same columns
        await connection.execute(table.insert().values(**row))


async def fill(url: str) -> None:
    instance = {"events": 3, "recorded_at": T}
    engine = create_engine(url, writer=True)
    try:
        async with engine.begin() as connection:
            await insert(
                connection,
                registry_instances,
                [
                    {
                        "addr": "reg:5000",
                        "instance_id": "first",
                        "first_seen_at": T,
                        "last_seen_at": T + timedelta(minutes=5),
                    }
                    | instance,
                    {
                        "addr": "reg:5000",
                        "instance_id": "second",
                        "first_seen_at": T + timedelta(minutes=10),
                        "last_seen_at": T + timedelta(minutes=20),
                        "events": 3,
                        "recorded_at": T + timedelta(minutes=10),
                    },
                    {"addr": "other:5000", "instance_id": "only", "first_seen_at": T, "last_seen_at": T}
                    | instance,
                ],
            )
            row: dict[str, Any] = {
                "trigger": "restart",
                "registry": "http://reg:5000",
                "repositories": 2,
                "tags": 3,
            }
            await insert(
                connection,
                reconcile_passes,
                [
                    row
                    | {
                        "id": "p-old",
                        "status": "failed",
                        "started_at": T - timedelta(hours=1),
                        "repairs": {},
                        "errors": {},
                        "error": "the registry at http://reg:5000 is unreachable",
                    },
                    row
                    | {
                        "id": "p-new",
                        "status": "ok",
                        "started_at": T + timedelta(minutes=11),
                        "finished_at": T + timedelta(minutes=12),
                        "repairs": REPAIRS,
                        "errors": {},
                    },
                ],
            )
            audit = {"action": "reconcile", "repository": "team/a", "request_id": "p-new", "recorded_at": T}
            await insert(
                connection,
                audit_log,
                [
                    audit
                    | {
                        "event_id": "o1",
                        "occurred_at": T,
                        "kind": "tag_added",
                        "tag": "2.0",
                        "digest": "sha256:b",
                        "raw": {"repair": {"kind": "tag_added", "previous_digest": None}},
                    },
                    audit
                    | {
                        "event_id": "o2",
                        "occurred_at": T,
                        "kind": "tag_removed",
                        "tag": "1.0",
                        "digest": "sha256:a",
                        "raw": {"repair": {"kind": "tag_removed", "previous_digest": "sha256:a"}},
                    },
                ],
            )
    finally:
        await engine.dispose()


async def test_the_api_and_the_page_show_restarts_passes_and_repairs(
    store_url: str, artifacts_dir: Path
) -> None:
    await fill(store_url)
    async with dashboard_server(store_url, NOW) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            gaps = (await client.get("/api/v1/gaps")).json()
            status = (await client.get("/api/v1/reconcile")).json()
            ok = (await client.get("/api/v1/reconcile/passes", params={"status": "ok"})).json()
            bad = await client.get("/api/v1/reconcile/passes", params={"status": "fine"})
            repairs = (await client.get("/api/v1/reconcile/passes/p-new/repairs")).json()
            schema = (await client.get("/openapi.json")).json()
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await page.goto(base)
            await expect(page.locator("#restarts tbody tr").first).to_be_attached(timeout=30_000)
            restart_rows = await page.locator("#restarts tbody tr").all_inner_texts()
            last = await page.locator("#reconcile-last").inner_text()
            note = await page.locator("#pulls-note").inner_text()
            repaired = await page.locator("#reconcile-repairs tbody tr").all_inner_texts()
            await page.locator("#gaps").screenshot(path=artifacts_dir / "dashboard-gaps.png")

    [restart] = gaps["items"]
    assert (restart["addr"], restart["instance_id"], restart["previous_instance_id"]) == (
        "reg:5000",
        "second",
        "first",
    )
    assert restart["note"] == "events pending at that moment may be lost"
    assert (
        restart["time"] == "2026-12-01T11:10:00Z"
        and restart["previous_last_event_at"] == "2026-12-01T11:05:00Z"
    )
    assert restart["reconciled_by"]["id"] == "p-new"
    assert gaps["instances"] == 3
    assert "Pull statistics cannot be reconstructed" in gaps["pulls_note"]
    assert status["last_pass"]["id"] == "p-new" and status["last_pass"]["repairs_total"] == 2
    assert status["running"] is None
    assert [(r["kind"], r["tag"], r["previous_digest"]) for r in status["repairs"]] == [
        ("tag_added", "2.0", None),
        ("tag_removed", "1.0", "sha256:a"),
    ]
    assert [p["id"] for p in ok["items"]] == ["p-new"] and bad.status_code == 400
    assert [r["kind"] for r in repairs["items"]] == ["tag_added", "tag_removed"]
    assert {"/api/v1/gaps", "/api/v1/reconcile", "/api/v1/reconcile/passes"} <= set(schema["paths"])

    assert len(restart_rows) == 1 and "events pending at that moment may be lost" in restart_rows[0]
    assert "reg:5000" in restart_rows[0] and "yes" in restart_rows[0]
    assert "Last reconcile pass" in last and "1 tag added, 1 tag removed" in last
    assert "Pull statistics cannot be reconstructed" in note
    assert [r.split("\t")[1] for r in repaired] == ["tag added", "tag removed"]
