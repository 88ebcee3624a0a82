"""Pure logic: settings, database URLs, time and address normalisation, DLQ headers,
the push buckets of a batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from common.environ import ConfigError, Environ
from consumers.deadletter import DeadLetter, dead_letter_headers
from consumers.errors import is_transient
from consumers.handlers import HANDLERS
from consumers.handlers.base import HandlerOptions, client_host, minute_of, parse_timestamp
from consumers.handlers.push import PushPlan, push_count_rows
from consumers.settings import load
from consumers.store.engine import async_url

KAFKA = {"REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": "k:9092"}


def test_settings_defaults_follow_the_handler() -> None:
    settings = load("pull", Environ(KAFKA))
    assert settings.topic == "registry.events.pull"
    assert settings.group == "registry.events.pull"
    assert settings.database_url == "sqlite:///./var/registry.db"
    assert settings.metrics_port == 9466
    other = load(
        "other", Environ({**KAFKA, "REGBRIDGE_TOPIC_PREFIX": "acme", "REGBRIDGE_CONSUMER_GROUP": "g1"})
    )
    assert (other.topic, other.group, other.router.dlq_topic) == ("acme.other", "g1", "acme.dlq")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONSUMER_BATCH_MAX_RECORDS", "0"),
        ("CONSUMER_AUTO_OFFSET_RESET", "middle"),
        ("METRICS_PORT", "70000"),
        ("CONSUMER_RETRY_MAX_SECONDS", "soon"),
    ],
)
def test_bad_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"REGBRIDGE_{name}"):
        load("push", Environ({**KAFKA, f"REGBRIDGE_{name}": value}))


@pytest.mark.parametrize(
    ("plain", "driver"),
    [
        ("sqlite:///./var/registry.db", "sqlite+aiosqlite"),
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite"),
        ("postgresql://u:p@db:5432/reg", "postgresql+asyncpg"),
        ("postgres://u@db/reg", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@db/reg", "postgresql+asyncpg"),
    ],
)
def test_plain_database_urls_get_their_async_driver(plain: str, driver: str) -> None:
    assert async_url(plain).drivername == driver


@pytest.mark.parametrize("bad", ["mysql://x/y", "postgresql+psycopg2://x/y", "not a url"])
def test_unsupported_database_urls_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError, match="REGBRIDGE_DATABASE_URL"):
        async_url(bad)


def test_registry_timestamps_become_utc_without_zone() -> None:
    assert parse_timestamp("2026-11-29T02:03:09.63819213Z") == datetime(2026, 11, 29, 2, 3, 9, 638192)
    assert parse_timestamp("2026-11-29T03:03:09.5+01:00") == datetime(2026, 11, 29, 2, 3, 9, 500000)
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp(None) is None
    assert minute_of(datetime(2026, 11, 29, 2, 3, 9, 5)) == datetime(2026, 11, 29, 2, 3)


@pytest.mark.parametrize(
    ("addr", "host"),
    [
        ("127.0.0.1:54606", "127.0.0.1"),
        ("203.0.113.7", "203.0.113.7"),
        ("[::1]:80", "::1"),
        ("::1", "::1"),
        (None, ""),
    ],
)
def test_client_addresses_drop_the_ephemeral_port(addr: str | None, host: str) -> None:
    assert client_host(addr) == host


def test_dead_letter_headers_keep_the_originals_and_name_the_failure() -> None:
    record = SimpleNamespace(
        topic="p.push", partition=3, offset=41, key=b"k", value=b"v", headers=[("a", b"1")]
    )
    headers = dict(
        dead_letter_headers(
            DeadLetter(record, ValueError("boom"), 2), handler="push", group="g", failed_at=datetime.now(UTC)
        )
    )
    assert headers["a"] == b"1"
    assert (headers["dlq-error"], headers["dlq-error-type"], headers["dlq-attempts"]) == (
        b"boom",
        b"ValueError",
        b"2",
    )
    assert (headers["dlq-source-topic"], headers["dlq-source-partition"], headers["dlq-source-offset"]) == (
        b"p.push",
        b"3",
        b"41",
    )


def test_transient_errors_are_told_apart() -> None:
    from sqlalchemy.exc import IntegrityError, OperationalError

    assert is_transient(OperationalError("stmt", {}, Exception("database is locked")))
    assert is_transient(ConnectionRefusedError())
    assert not is_transient(IntegrityError("stmt", {}, Exception("duplicate")))
    assert not is_transient(ValueError("bug"))


def test_every_handler_is_registered_under_its_name() -> None:
    assert {name: factory(HandlerOptions()).name for name, factory in HANDLERS.items()} == {
        "push": "push",
        "pull": "pull",
        "other": "other",
    }


def test_a_batch_of_pushes_is_summed_per_minute_repository_and_kind() -> None:
    def plan(second: int, repository: str, manifest: bool, size: int | None) -> PushPlan:
        at = datetime(2026, 11, 29, 2, 3, 0) + timedelta(seconds=second)
        return PushPlan(repository, "sha256:x", None, size, None, manifest, at, "alice")

    plans = [
        plan(5, "team/a", True, 300),
        plan(50, "team/a", True, 300),  # the same manifest re-pushed: counted again
        plan(10, "team/a", False, None),  # no size: counts, adds no bytes
        plan(20, "team/a", False, 40),
        plan(61, "team/a", True, 7),  # the next minute
        plan(30, "team/b", True, 1),
    ]
    rows = {(r["minute"].minute, r["repository"], r["kind"]): r for r in push_count_rows(plans)}
    assert {key: (r["count"], r["bytes"], r["last_pushed_at"].second) for key, r in rows.items()} == {
        (3, "team/a", "manifest"): (2, 600, 50),
        (3, "team/a", "blob"): (2, 40, 20),
        (4, "team/a", "manifest"): (1, 7, 1),
        (3, "team/b", "manifest"): (1, 1, 30),
    }
