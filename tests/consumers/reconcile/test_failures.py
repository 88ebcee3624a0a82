"""A registry that misbehaves (through ``tests/support/registry_front.py``): a 403 on one
repository, a manifest whose bytes do not match its digest, 5xx answers, timeouts, a
catalog that paginates wrongly. Each is logged and counted, never stored, and only what
cannot be worked around fails the pass; the next attempt resumes where it stopped."""

from __future__ import annotations

import pytest

from common.kafka import KafkaClients
from consumers.reconcile.passes import ReconcilePass
from consumers.reconcile.process import producer_factory
from consumers.reconcile.progress import Progress
from consumers.reconcile.publisher import ObservationPublisher
from consumers.reconcile.settings import ReconcileSettings
from consumers.reconcile.summary import PassSummary
from consumers.registry_api import RegistryClient
from consumers.runner import StopRequest
from consumers.store.engine import create_engine
from tests.consumers.conftest import MakeSettings
from tests.consumers.reconcile.conftest import READER, Filled
from tests.support.database import read_table
from tests.support.reconciling import (
    observing_consumers,
    pass_settings,
    reconcile_once,
    registry_state,
    wait_inventory,
)
from tests.support.registry_front import Fault, RegistryFront

pytestmark = pytest.mark.kafka


def _spoil(body: bytes) -> bytes:
    return body.replace(b'"schemaVersion":2', b'"schemaVersion": 2')


async def resumed_pass(settings: ReconcileSettings, resume_after: str | None) -> PassSummary:
    """A pass that starts after ``resume_after``, as the long-running process retries one."""
    engine = create_engine(settings.database_url, writer=True)
    publisher = ObservationPublisher(
        producer_factory(KafkaClients(settings.kafka)), settings.router, StopRequest().pause
    )
    try:
        async with RegistryClient(settings.registry) as client:
            reconcile = ReconcilePass(
                client,
                engine,
                publisher,
                trigger="retry",
                settle=settings.settle_s,
                progress=Progress(bar=False),
                resume_after=resume_after,
            )
            return await reconcile.run()
    finally:
        await publisher.close()
        await engine.dispose()


async def test_a_refused_repository_and_a_bad_manifest_are_skipped_and_counted(
    filled: Filled, make_settings: MakeSettings
) -> None:
    expected = registry_state(filled.url, READER)
    kept = {
        key: digest for key, digest in expected.items() if key[0] not in ("team/forbidden", "team/corrupt")
    }
    consumer = make_settings("push")
    with RegistryFront(filled.url) as front:
        front.add(
            Fault("GET", r"^/v2/team/forbidden/tags/list", status=403, body=b'{"errors":[{"code":"DENIED"}]}')
        )
        front.add(Fault("GET", r"^/v2/team/corrupt/manifests/", rewrite_body=_spoil))
        front.add(
            Fault("GET", r"^/v2/team/beta/tags/list", status=503, headers={"Retry-After": "0"}, times=2)
        )
        async with observing_consumers(make_settings):
            summary = await reconcile_once(pass_settings(front.url, READER, consumer))
            inventory = await wait_inventory(consumer.database_url, lambda inv: inv.tags == kept)
        beta_lists = front.requests("GET", r"^/v2/team/beta/tags/list")

    assert summary.status == "ok", "a 403 for one repository is not a failed pass"
    assert dict(summary.errors) == {"forbidden": 1, "bad_content": 1}
    assert inventory.tags == kept
    assert "team/forbidden" not in inventory.repositories
    corrupt = filled.images["e"].digest
    assert ("team/corrupt", corrupt) not in inventory.manifests
    contents = {row["digest"] for row in await read_table(consumer.database_url, "manifest_contents")}
    assert corrupt not in contents, "a manifest that does not match its digest is never stored"
    assert [s.status for s in beta_lists] == [503, 503, 200], "5xx answers are retried"


async def test_a_registry_that_stops_answering_fails_the_pass_and_the_next_resumes(
    filled: Filled, make_settings: MakeSettings
) -> None:
    expected = registry_state(filled.url, READER)
    consumer = make_settings("push")
    with RegistryFront(filled.url) as front:
        slow = front.add(Fault("GET", r"^/v2/_catalog\?.*last=team%2Fbeta", delay=2.0))
        async with observing_consumers(make_settings):
            settings = pass_settings(front.url, READER, consumer, page_size=2, timeout=0.5)
            failed = await reconcile_once(settings)
            first_page = {k: d for k, d in expected.items() if k[0] in ("team/alpha", "team/beta")}
            halfway = await wait_inventory(consumer.database_url, lambda inv: inv.tags == first_page)
            timed_out = slow.hits
            front.clear()
            resumed = await resumed_pass(settings, failed.resume_after)
            inventory = await wait_inventory(consumer.database_url, lambda inv: inv.tags == expected)
        again = front.requests("GET", r"^/v2/team/alpha/")

    assert failed.status == "failed" and "timed out" in (failed.error or "")
    assert failed.resume_after == "team/beta"
    assert timed_out == settings.registry.attempts
    assert halfway.tags == first_page, "what was read before the failure was published"
    assert resumed.status == "ok", resumed.error
    assert inventory.tags == expected
    assert again == [], "the resumed pass starts after the last page done"


async def test_a_catalog_that_paginates_wrongly_fails_the_pass_and_removes_nothing(
    filled: Filled, make_settings: MakeSettings
) -> None:
    expected = registry_state(filled.url, READER)
    consumer = make_settings("push")
    with RegistryFront(filled.url) as front:
        async with observing_consumers(make_settings):
            settings = pass_settings(front.url, READER, consumer, page_size=2)
            assert (await reconcile_once(settings)).status == "ok"
            await wait_inventory(consumer.database_url, lambda inv: inv.tags == expected)
            elsewhere = front.add(
                Fault(
                    "GET",
                    r"^/v2/_catalog",
                    link='<http://elsewhere.example/v2/_catalog?n=2&last=x>; rel="next"',
                )
            )
            away = await reconcile_once(settings)
            front.faults.remove(elsewhere)
            front.add(
                Fault("GET", r"^/v2/_catalog", link='</v2/_catalog?n=2>; rel="next"')
            )  # the first page again
            loop = await reconcile_once(settings)
            inventory = await wait_inventory(consumer.database_url, lambda inv: False, within=1.5)

    assert away.status == "failed" and "another host" in (away.error or "")
    assert loop.status == "failed" and "went backwards or repeated" in (loop.error or "")
    assert sum(away.repairs.values()) == sum(loop.repairs.values()) == 0
    assert inventory.tags == expected, "nothing was removed"
