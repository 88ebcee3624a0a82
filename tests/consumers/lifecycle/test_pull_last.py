"""``pull_last`` as the pull handler writes it (SQLite and PostgreSQL): the tag's and the
digest's rows, GET apart from HEAD, the later time kept whatever order batches come in, and
neither the reconcile's own requests nor excluded user agents move it. The exclusion globs
come from ``REGBRIDGE_LIFECYCLE_IGNORE_USERAGENTS`` through the consumer's settings."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from common.contract import RECONCILE_USER_AGENT
from common.environ import Environ
from consumers.handlers.base import HandlerOptions
from consumers.handlers.pull import PullHandler, useragent_matcher
from consumers.process import ConsumerProcess
from consumers.settings import load
from tests.consumers.lifecycle.events import apply, pull
from tests.support.database import read_table

T0 = datetime(2026, 12, 1, 10, 0)
REPO = "team/a"
X, Y = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def test_globs_match_case_insensitively_and_none_match_nothing() -> None:
    ignored = useragent_matcher(("trivy*", "*Replication*"))
    assert ignored("Trivy/0.50.1") and ignored("harbor-replication-service") and ignored("TRIVY")
    assert not ignored("docker/27.0 go/go1.22") and not ignored("")
    nothing = useragent_matcher(())
    assert not nothing("Trivy/0.50.1") and not nothing("")


async def test_the_variable_reaches_the_pull_handler_through_the_settings(tmp_path: Path) -> None:
    env = {
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "REGBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path}/s.db",
    }
    settings = load(
        "pull", Environ(env | {"REGBRIDGE_LIFECYCLE_IGNORE_USERAGENTS": " trivy* , ,Harbor-Replication* "})
    )
    assert settings.ignore_useragents == ("trivy*", "Harbor-Replication*")
    process = ConsumerProcess(settings)  # builds its handler as `run pull` does; connects to nothing
    try:
        assert isinstance(process.handler, PullHandler)
        assert process.handler.ignored("trivy/1") and not process.handler.ignored("docker/27")
    finally:
        await process.engine.dispose()
    assert load("pull", Environ(env)).ignore_useragents == ()


async def _last(url: str) -> dict[str, tuple[datetime | None, datetime | None]]:
    return {r["reference"]: (r["last_get_at"], r["last_head_at"]) for r in await read_table(url, "pull_last")}


async def test_the_later_pull_wins_across_batches_get_apart_from_head(store_url: str) -> None:
    late, early = T0 + timedelta(minutes=10), T0
    await apply(store_url, [pull(late, REPO, X, "1.0"), pull(early, REPO, X, "1.0"), pull(early, REPO, Y)])
    await apply(store_url, [pull(early - timedelta(minutes=1), REPO, X, "1.0")])  # an older batch, later
    await apply(store_url, [pull(early, REPO, X, "1.0", method="HEAD")])
    assert await _last(store_url) == {"1.0": (late, early), X: (late, early), Y: (early, None)}


async def test_the_reconcile_and_excluded_agents_do_not_move_it(store_url: str) -> None:
    options = HandlerOptions(ignore_useragents=("trivy*",))
    await apply(store_url, [pull(T0, REPO, X, "1.0")], options)
    later = T0 + timedelta(hours=1)
    await apply(
        store_url,
        [
            pull(later, REPO, X, "1.0", useragent="Trivy/0.50"),
            pull(later, REPO, Y, useragent=RECONCILE_USER_AGENT),
        ],
        options,
    )
    assert await _last(store_url) == {"1.0": (T0, None), X: (T0, None)}
    # Trivy's pull is in the statistics; the reconcile's is not
    daily = await read_table(store_url, "pulls_daily")
    assert sorted((r["reference"], r["manifest_gets"]) for r in daily) == [("1.0", 2)]
