"""``apply_plan`` against a real registry (docker-registry 2.8.2) and a real store (SQLite and
PostgreSQL), with plans written by hand over what the test pushed: exactly the planned
manifests go, their tags with them; a tag moved at the registry or a change the store
knows of skips the entry; a registry with deletes disabled stops the apply at the first
delete; an interrupted apply run again deletes nothing twice; 403 fails one entry, an
unreachable registry stops. (The plan from the store and the inventory after the delete
events: ``test_cleanup.py``.)"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from consumers.lifecycle.apply import DELETES_DISABLED, ApplySummary, Outcome, apply_plan
from consumers.lifecycle.plan import Plan
from consumers.registry_api import RegistryClient
from consumers.store.engine import create_engine
from consumers.store.tables import manifests, tags
from devstack.ociimage import BuiltImage, build_image
from tests.consumers.lifecycle.conftest import PUSHER, client_settings, entry, hand_plan, present, tags_of
from tests.support.pusher import ApiPusher
from tests.support.registry import LocalRegistry
from tests.support.registry_front import Fault, RegistryFront

REPO = "team/app"


async def push(registry: LocalRegistry, *images: tuple[BuiltImage, str | None]) -> None:
    pusher = ApiPusher(registry.url, PUSHER)
    async with pusher.client() as client:
        for image, tag in images:
            await pusher.image(client, REPO, tag, image)


async def run(
    plan: Plan,
    url: str,
    store_url: str,
    summary: ApplySummary | None = None,
    on_progress: Callable[[Outcome], None] | None = None,
) -> ApplySummary:
    engine = create_engine(store_url)
    try:
        async with RegistryClient(client_settings(url)) as client:
            return await apply_plan(plan, client, engine, summary=summary, on_progress=on_progress)
    finally:
        await engine.dispose()


def images(n: int, seed: str) -> list[BuiltImage]:
    return [build_image("app", f"{seed}-{i}") for i in range(n)]


async def test_exactly_the_planned_manifests_go_with_their_tags(
    registry: LocalRegistry, store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    a, b, c, d = images(4, "exact")
    await push(registry, (a, "1.0"), (a, "1.0-alias"), (b, "2.0"), (c, "3.0"), (d, None))
    plan = hand_plan(entry(REPO, a, "1.0", "1.0-alias", freed=7), entry(REPO, d, freed=5))
    caplog.set_level(logging.INFO, logger="consumers.lifecycle.apply")

    summary = await run(plan, registry.url, store_url)

    assert summary.line() == {
        "status": "ok",
        "planned": 2,
        "deleted": 2,
        "already_gone": 0,
        "skipped": [],
        "failed": [],
        "bytes_freed_planned": 12,
        "stopped": None,
    }
    assert [present(registry, REPO, image.digest) for image in (a, b, c, d)] == [404, 200, 200, 404]
    assert tags_of(registry, REPO) == ["2.0", "3.0"]
    lines = [r for r in caplog.records if r.name == "consumers.lifecycle.apply"]
    assert [(r.getMessage(), r.fields["digest"]) for r in lines] == [  # type: ignore[attr-defined]
        ("cleanup: deleted", a.digest),
        ("cleanup: deleted", d.digest),
    ], "one line per deletion"
    assert lines[0].fields["tags"] == ["1.0", "1.0-alias"]  # type: ignore[attr-defined]


async def test_a_tag_moved_or_gone_at_the_registry_skips_the_entry(
    registry: LocalRegistry, store_url: str
) -> None:
    a, b, c = images(3, "moved")
    await push(registry, (a, "1.0"), (c, "3.0"))
    plan = hand_plan(entry(REPO, a, "1.0"), entry(REPO, c, "3.0", "never-there"))
    await push(registry, (b, "1.0"))  # after the plan: 1.0 now names b

    summary = await run(plan, registry.url, store_url)

    assert summary.deleted == 0 and summary.status == "ok"
    assert summary.skipped == [
        {"repository": REPO, "digest": a.digest, "reason": f"tag 1.0 now points at {b.digest}"},
        {"repository": REPO, "digest": c.digest, "reason": "tag never-there no longer exists"},
    ]
    assert [present(registry, REPO, image.digest) for image in (a, b, c)] == [200, 200, 200]


async def test_a_change_the_store_knows_of_skips_the_entry(registry: LocalRegistry, store_url: str) -> None:
    a, b, c = images(3, "store")
    await push(registry, (a, "1.0"), (b, "2.0"), (c, "3.0"))
    plan = hand_plan(entry(REPO, a, "1.0"), entry(REPO, b, "2.0"), entry(REPO, c, "3.0"))
    later = plan.delete[0].last_pushed_at.replace(tzinfo=None) + timedelta(minutes=1)
    engine = create_engine(store_url, writer=True)
    try:
        async with engine.begin() as connection:  # what the push handler writes for a re-push and a new tag
            row = {"repository": REPO, "first_pushed_at": later, "last_pushed_at": later, "push_count": 2}
            await connection.execute(
                insert(manifests), [row | {"digest": a.digest}, row | {"digest": b.digest}]
            )
            await connection.execute(
                insert(tags),
                [{"repository": REPO, "tag": "hotfix", "digest": b.digest, "updated_at": later}],
            )
            row["last_pushed_at"] = later - timedelta(minutes=10)
            await connection.execute(insert(manifests), [row | {"digest": c.digest}])
    finally:
        await engine.dispose()

    summary = await run(plan, registry.url, store_url)

    assert summary.skipped == [
        {
            "repository": REPO,
            "digest": a.digest,
            "reason": f"pushed again at {later.isoformat()}+00:00, after the plan",
        },
        {
            "repository": REPO,
            "digest": b.digest,
            "reason": f"pushed again at {later.isoformat()}+00:00, after the plan",
        },
    ]
    assert summary.deleted == 1, "the store shows no change for c"
    assert [present(registry, REPO, image.digest) for image in (a, b, c)] == [200, 200, 404]
    plan = hand_plan(
        replace(entry(REPO, b, "2.0"), last_pushed_at=plan.delete[0].last_pushed_at + timedelta(hours=1))
    )
    summary = await run(plan, registry.url, store_url)
    assert summary.skipped == [
        {"repository": REPO, "digest": b.digest, "reason": "tag hotfix now points at it"}
    ]


async def test_deletes_disabled_stop_at_the_first_delete_with_nothing_deleted(
    no_delete_registry: LocalRegistry, store_url: str
) -> None:
    a, b, c = images(3, "disabled")
    await push(no_delete_registry, (a, "1.0"), (b, "2.0"), (c, "3.0"))
    plan = hand_plan(entry(REPO, a, "1.0"), entry(REPO, b, "2.0"), entry(REPO, c, "3.0"))
    with RegistryFront(no_delete_registry.url) as front:
        summary = await run(plan, front.url, store_url)
        deletes = front.requests("DELETE")

    assert summary.stopped == DELETES_DISABLED and "REGISTRY_STORAGE_DELETE_ENABLED=true" in DELETES_DISABLED
    assert summary.status == "stopped" and summary.deleted == 0 and summary.failed == summary.skipped == []
    assert [(d.target, d.status) for d in deletes] == [(f"/v2/{REPO}/manifests/{a.digest}", 405)], (
        "nothing after"
    )
    assert [present(no_delete_registry, REPO, image.digest) for image in (a, b, c)] == [200, 200, 200]


async def test_an_interrupted_apply_run_again_deletes_nothing_twice(
    registry: LocalRegistry, store_url: str
) -> None:
    built = images(4, "again")
    await push(registry, *((image, f"{n}.0") for n, image in enumerate(built)))
    plan = hand_plan(*(entry(REPO, image, f"{n}.0") for n, image in enumerate(built)))
    first = ApplySummary(planned=4)
    task: asyncio.Task[ApplySummary] | None = None

    def interrupt(outcome: Outcome) -> None:
        if outcome.done == 2 and task is not None:
            task.cancel()  # what Ctrl-C does to `cleanup apply`

    task = asyncio.create_task(run(plan, registry.url, store_url, summary=first, on_progress=interrupt))
    with pytest.raises(asyncio.CancelledError):
        await task
    assert first.deleted == 2
    assert [present(registry, REPO, image.digest) for image in built] == [404, 404, 200, 200]

    with RegistryFront(registry.url) as front:
        again = await run(plan, front.url, store_url)
        deletes = [d.target.rsplit("/", 1)[1] for d in front.requests("DELETE")]

    assert (again.status, again.deleted, again.already_gone, again.failed) == ("ok", 2, 2, [])
    assert deletes == [built[2].digest, built[3].digest], "no DELETE for what was already gone"
    assert [present(registry, REPO, image.digest) for image in built] == [404] * 4


async def test_a_403_fails_one_entry_and_an_unreachable_registry_stops(
    registry: LocalRegistry, store_url: str
) -> None:
    a, b, c = images(3, "faults")
    await push(registry, (a, "1.0"), (b, "2.0"), (c, "3.0"))
    plan = hand_plan(entry(REPO, a, "1.0"), entry(REPO, b, "2.0"), entry(REPO, c, "3.0"))
    with RegistryFront(registry.url) as front:
        front.add(Fault("DELETE", a.digest, status=403, times=1))
        front.add(Fault("HEAD", c.digest, status=503))
        summary = await run(plan, front.url, store_url)

    assert summary.deleted == 1 and summary.status == "stopped"
    assert [f["digest"] for f in summary.failed] == [a.digest]
    assert summary.failed[0]["error"].startswith("AccessDenied: DELETE /v2/team/app/manifests/")
    assert summary.stopped is not None and "answered 503 (2 attempts)" in summary.stopped
    assert [present(registry, REPO, image.digest) for image in (a, b, c)] == [200, 404, 200]


async def test_a_store_that_cannot_be_read_stops_before_any_delete(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    a, b = images(2, "nostore")
    await push(registry, (a, "1.0"), (b, "2.0"))
    empty = f"sqlite:///{tmp_path / 'no-schema.db'}"  # a store without its tables
    summary = await run(hand_plan(entry(REPO, a, "1.0"), entry(REPO, b, "2.0")), registry.url, empty)

    assert summary.status == "stopped" and summary.deleted == 0
    assert summary.stopped is not None and summary.stopped.startswith("the store cannot be read: ")
    assert "no such table" in summary.stopped
    assert [present(registry, REPO, image.digest) for image in (a, b)] == [200, 200]
