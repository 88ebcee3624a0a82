"""``cleanup plan`` then ``cleanup apply`` as an operator runs them, over the whole pipeline:
a real registry (docker-registry 2.8.2) notifies the real bridge (in this loop), the push
and other consumers keep the store, one reconcile pass fetches the manifests' contents
(what the bytes freed are computed from; it sees tagged manifests only, so ``dev`` moves
off ``d`` after it, as an untagged manifest usually comes to be). On SQLite and PostgreSQL:

* the plan (the CLI's JSON, on stdout and in ``--out``) deletes what the policy says, with
  the bytes freed derived here by hand from the pushed blobs;
* two manifests pushed again between plan and apply are skipped; exactly the other planned
  manifests are gone from the registry (checked through its API), their tags with them;
* the delete events come back through the bridge and the inventory follows them.
"""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from consumers.lifecycle.command import make_plan_from_store
from consumers.lifecycle.policy import load_policy
from devstack.ociimage import BuiltImage, build_image, build_index
from devstack.registry import Notifications
from tests.consumers.conftest import MakeSettings
from tests.consumers.lifecycle.conftest import PUSHER, present, tags_of
from tests.support.bridge import TOKEN, bridge_settings, running_bridge
from tests.support.database import read_table
from tests.support.processes import clean_env, venv_command
from tests.support.pusher import ApiPusher
from tests.support.reconciling import (
    Inventory,
    observing_consumers,
    pass_settings,
    reconcile_once,
    wait_inventory,
)
from tests.support.registry import LocalRegistry

pytestmark = pytest.mark.kafka
APP, OTHER = "team/app", "other/app"
POLICY = """\
rules:
  - repositories: "team/*"
    keep_last_pushed: 1
    keep_tags: "^latest$"
    delete_untagged_after_days: 0
"""


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv_command("registry-consumer"), "cleanup", *args],
        env=clean_env(REGBRIDGE_LOG_FORMAT="json", **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def image_bytes(image: BuiltImage) -> int:
    return sum(len(blob.data) for blob in (image.manifest, *image.blobs))


async def test_plan_then_apply_deletes_exactly_the_plan_and_the_inventory_follows(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    consumer = make_settings("push")
    url = consumer.database_url
    a, b, f, d, c, e, x = (build_image("app", f"cleanup-{n}") for n in "abfdcex")
    index = build_index("multi", "cleanup")
    children = [image.digest for image in index.images]
    (tmp_path / "policy.yaml").write_text(POLICY)
    async with running_bridge(
        bridge_settings(consumer.kafka.bootstrap_servers, consumer.topic_prefix)
    ) as bridge:
        registry = LocalRegistry(tmp_path / "registry", Notifications(f"{bridge.url}/events", TOKEN))
        await asyncio.to_thread(registry.start)
        pusher = ApiPusher(registry.url, PUSHER)
        try:
            async with observing_consumers(make_settings), pusher.client() as client:
                for image, tag in ((a, "1.0"), (b, "2.0"), (f, "2.5"), (d, "dev")):
                    await pusher.image(client, APP, tag, image)
                await pusher.index(client, APP, "multi-1", index)
                await pusher.image(client, APP, "3.0", c)
                await pusher.manifest(client, APP, "latest", c.manifest)
                await pusher.image(client, OTHER, "1.0", x)
                everything = {(APP, i.digest) for i in (a, b, f, d, c)} | {
                    (APP, index.digest),
                    (OTHER, x.digest),
                }
                everything |= {(APP, child) for child in children}
                await wait_inventory(url, lambda inv: inv.manifests == everything and len(inv.tags) == 8)
                assert (await reconcile_once(pass_settings(registry.url, PUSHER, consumer))).status == "ok"
                await pusher.image(client, APP, "dev", e)  # d is left untagged
                everything.add((APP, e.digest))
                await wait_inventory(url, lambda inv: inv.tags.get((APP, "dev")) == e.digest)

                planned = await asyncio.to_thread(
                    cli, "plan", "--policy", str(tmp_path / "policy.yaml"), "--format", "json",
                    "--out", str(tmp_path / "plan.json"), REGBRIDGE_DATABASE_URL=url,
                )  # fmt: skip
                assert planned.returncode == 0, planned.stderr

                plan_time = datetime.now(UTC).replace(tzinfo=None)
                await pusher.manifest(client, APP, "2.0", b.manifest)  # b pushed again
                await pusher.manifest(client, APP, "2.5-hotfix", f.manifest)  # f tagged again
                await _wait_pushed_after(url, {b.digest, f.digest}, plan_time)

                applied = await asyncio.to_thread(
                    cli, "apply", str(tmp_path / "plan.json"), "--yes", REGBRIDGE_DATABASE_URL=url,
                    REGBRIDGE_REGISTRY_URL=registry.url, REGBRIDGE_REGISTRY_USERNAME=PUSHER[0],
                    REGBRIDGE_REGISTRY_PASSWORD=PUSHER[1],
                )  # fmt: skip
                gone = {(APP, i) for i in (a.digest, d.digest, index.digest, *children)}
                inventory = await wait_inventory(url, lambda inv: inv.manifests == everything - gone)
                after = await make_plan_from_store(
                    url, load_policy(tmp_path / "policy.yaml"), datetime.now(UTC)
                )
                statuses = {(r, digest): present(registry, r, digest) for r, digest in sorted(everything)}
                app_tags = tags_of(registry, APP)
        finally:
            await asyncio.to_thread(registry.stop)

    document = orjson.loads(planned.stdout)
    assert document == orjson.loads((tmp_path / "plan.json").read_bytes()), "stdout is the --out file"
    assert set(document) == {"format", "version", "created_at", "policy", "bytes_freed", "delete", "keep"}
    deletes = {e["digest"]: e for e in document["delete"]}
    assert [e["digest"] for e in document["delete"]][-2:] == sorted(children), "an index's children after it"
    assert set(deletes) == {a.digest, b.digest, f.digest, d.digest, index.digest, *children}
    assert deletes[a.digest]["tags"] == ["1.0"] and deletes[d.digest]["tags"] == []
    assert (
        deletes[a.digest]["reason"]
        == "rules[0] (team/*): not among the last 1 pushed, no tag matches keep_tags"
    )
    assert deletes[d.digest]["reason"].startswith("rules[0] (team/*): untagged, last pushed ")
    assert set(deletes[a.digest]) == {
        "repository", "digest", "tags", "reason", "bytes_freed", "last_pushed_at", "media_type", "rule"
    }  # fmt: skip
    for image in (a, b, f, d):
        assert deletes[image.digest]["bytes_freed"] == image_bytes(image), image.digest
    family = len(index.index.data) + sum(image_bytes(image) for image in index.images)
    assert sum(deletes[digest]["bytes_freed"] for digest in (index.digest, *children)) == family
    assert document["bytes_freed"] == sum(e["bytes_freed"] for e in document["delete"])
    keeps = {(e["repository"], e["digest"]): e["reason"] for e in document["keep"]}
    assert keeps == {
        (APP, c.digest): "tag latest matches keep_tags",
        (APP, e.digest): "among the last 1 pushed",
        (OTHER, x.digest): "no rule matches the repository",
    }

    assert applied.returncode == 0, applied.stderr
    summary = orjson.loads(applied.stdout)
    assert (summary["deleted"], summary["already_gone"], summary["failed"]) == (5, 0, [])
    assert {s["digest"]: s["reason"][:15] for s in summary["skipped"]} == {
        b.digest: "pushed again at",
        f.digest: "pushed again at",
    }
    assert summary["bytes_freed_planned"] == sum(deletes[digest]["bytes_freed"] for _, digest in gone)
    log = [orjson.loads(line) for line in applied.stderr.splitlines() if line.startswith("{")]
    deleted_lines = [line["digest"] for line in log if line.get("result") == "deleted"]
    assert sorted(deleted_lines) == sorted(digest for _, digest in gone), "one line per deletion"

    assert statuses == {key: 404 if key in gone else 200 for key in everything}, (
        "exactly the plan, less the skips"
    )
    assert app_tags == ["2.0", "2.5", "2.5-hotfix", "3.0", "dev", "latest"]
    _assert_inventory(inventory, everything - gone, app_tags)
    planned_after = {(d.repository, d.digest) for d in after.delete} | {
        (k.repository, k.digest) for k in after.keep
    }
    assert not planned_after & gone


def _assert_inventory(inventory: Inventory, live: set[tuple[str, str]], app_tags: list[str]) -> None:
    assert inventory.manifests == live, "the delete events came back through the bridge"
    assert sorted(tag for (repository, tag) in inventory.tags if repository == APP) == app_tags
    deleted_by = {m["deleted_by"] for m in inventory.rows["manifests"] if m["deleted_at"] is not None}
    assert deleted_by == {PUSHER[0]}


async def _wait_pushed_after(url: str, digests: set[str], moment: datetime) -> list[dict[str, Any]]:
    async def pushed() -> list[dict[str, Any]]:
        rows = await read_table(url, "manifests")
        return [r for r in rows if r["digest"] in digests and r["last_pushed_at"] > moment]

    deadline = asyncio.get_running_loop().time() + 60
    found = await pushed()
    while len(found) < len(digests) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.3)
        found = await pushed()
    assert len(found) == len(digests), "the pushes after the plan reached the store"
    return found
