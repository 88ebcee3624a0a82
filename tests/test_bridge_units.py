"""Pure logic of the bridge: settings, tokens, filters, the dedupe window."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from bridge.dedupe import DedupeWindow
from bridge.filters import EventFilter
from bridge.receiver import all_done
from bridge.settings import BridgeSettings
from common.contract import Event
from common.environ import ConfigError, Environ
from common.tokens import TokenCheck, bearer_token
from devstack.ports import DevPorts
from devstack.stack import DevStack, registry_snippet


def settings(**env: str) -> BridgeSettings:
    env = {"KAFKA_BOOTSTRAP_SERVERS": "k:9092", **env}
    return BridgeSettings.from_environ(Environ({f"REGBRIDGE_{k}": v for k, v in env.items()}))


def test_settings_defaults_and_names() -> None:
    s = settings(AUTH_TOKENS="a, b", KAFKA_BOOTSTRAP_SERVERS="k:9092")
    assert s.auth_tokens == ("a", "b")
    assert s.kafka.bootstrap_servers == "k:9092"
    assert s.topic_prefix == "registry.events"
    assert s.max_body_bytes == 1024 * 1024
    assert s.publish_timeout < 1.0  # well inside the registry's 1 s timeout
    assert s.router.topic_for("push") == "registry.events.push"
    assert s.router.topic_for("delete") == "registry.events.other"


def test_settings_routes_and_filters() -> None:
    s = settings(
        ALLOW_ANONYMOUS="true",
        TOPIC_PREFIX="acme.reg",
        TOPIC_ROUTES="push=push,pull=pull,delete=deletes",
        IGNORE_MEDIA_TYPES="application/octet-stream",
        REPOSITORIES_EXCLUDE="scratch/*",
    )
    assert s.router.topic_for("delete") == "acme.reg.deletes"
    assert s.router.topic_for("mount") == "acme.reg.other"
    assert s.ignore_media_types == ("application/octet-stream",)
    assert s.repositories_exclude == ("scratch/*",)


def test_tokens_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("one\ntwo,three\n")
    assert settings(AUTH_TOKENS_FILE=str(path)).auth_tokens == ("one", "two", "three")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "REGBRIDGE_AUTH_TOKENS"),
        ({"AUTH_TOKENS": " , "}, "REGBRIDGE_AUTH_TOKENS"),
        ({"ALLOW_ANONYMOUS": "maybe"}, "REGBRIDGE_ALLOW_ANONYMOUS"),
        ({"AUTH_TOKENS": "t", "MAX_BODY_BYTES": "big"}, "REGBRIDGE_MAX_BODY_BYTES"),
        ({"AUTH_TOKENS": "t", "TOPIC_PREFIX": "bad prefix"}, "REGBRIDGE_TOPIC_PREFIX"),
        ({"AUTH_TOKENS": "t", "TOPIC_ROUTES": "push"}, "REGBRIDGE_TOPIC_ROUTES"),
        ({"AUTH_TOKENS": "t", "PUBLISH_TIMEOUT_SECONDS": "0"}, "REGBRIDGE_PUBLISH_TIMEOUT_SECONDS"),
        ({"AUTH_TOKENS": "t", "LOG_FORMAT": "xml"}, "REGBRIDGE_LOG_FORMAT"),
        ({"AUTH_TOKENS_FILE": "/nonexistent/tokens"}, "REGBRIDGE_AUTH_TOKENS_FILE"),
    ],
)
def test_settings_errors_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        settings(**env)


def test_token_check_accepts_every_configured_token_only() -> None:
    check = TokenCheck(["old", "new"])
    assert check.allows("Bearer old") and check.allows("bearer new") and check.allows("Bearer  new ")
    for header in (None, "", "Bearer", "Bearer wrong", "Basic old", "old", "Bearer oldx", "Bearer ol"):
        assert not check.allows(header), header
    assert TokenCheck([]).allows(None)
    assert bearer_token("Bearer abc") == b"abc"


def event(**target: Any) -> Event:
    raw = {"id": "e1", "action": target.pop("action", "push"), "target": {"repository": "team/app", **target}}
    return Event.from_raw(raw)


def test_filters() -> None:
    f = EventFilter.build(
        media_types=["application/octet-stream"], actions=["pull"], include=["team/*"], exclude=["team/tmp*"]
    )
    assert f.reason_to_drop(event(mediaType="application/octet-stream")) == "media_type"
    assert f.reason_to_drop(event(action="pull")) == "action"
    assert f.reason_to_drop(event(repository="other/app")) == "repository_not_included"
    assert f.reason_to_drop(event(repository="team/tmp1")) == "repository_excluded"
    assert f.reason_to_drop(event(mediaType="")) is None  # 3.x empty value: absent
    assert f.reason_to_drop(event(mediaType="application/vnd.oci.image.manifest.v1+json")) is None
    assert EventFilter.build().empty


async def test_dedupe_remembers_acknowledged_ids_within_its_size() -> None:
    window = DedupeWindow(2)
    loop = asyncio.get_running_loop()
    acks = {name: loop.create_future() for name in ("a", "b", "c")}
    for name, ack in acks.items():
        window.track(name, ack)
    assert window.in_flight("a") is acks["a"] and not window.published("a")
    for ack in acks.values():
        ack.set_result(None)
    await asyncio.sleep(0)
    assert window.in_flight("a") is None
    assert [window.published(n) for n in "abc"] == [False, True, True]  # oldest evicted


async def test_dedupe_forgets_a_failed_copy() -> None:
    window = DedupeWindow(10)
    ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    window.track("a", ack)
    ack.set_exception(RuntimeError("broker down"))
    await asyncio.sleep(0)
    assert window.in_flight("a") is None and not window.published("a")


def test_dedupe_size_zero_is_off() -> None:
    window = DedupeWindow(0)
    window.remember("a")
    assert not window.published("a") and len(window) == 0


async def test_all_done_waits_for_every_future_and_never_cancels() -> None:
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    loop.call_later(0.01, first.set_result, 1)
    loop.call_later(0.02, second.set_result, 2)
    assert await all_done([first, second], 5.0) == 0
    late: asyncio.Future[Any] = loop.create_future()
    assert await all_done([first, late], 0.05) == 1
    assert not late.cancelled()
    assert await all_done([], 0.0) == 0


def test_dev_snippet_names_a_reachable_url() -> None:
    local = DevStack("127.0.0.1:9092", "tok", "127.0.0.1", DevPorts(bridge=5080))
    assert "url: http://127.0.0.1:5080/events" in registry_snippet(local)
    assert "Authorization: [Bearer tok]" in registry_snippet(local)
    wide = DevStack("127.0.0.1:9092", "tok", "0.0.0.0", DevPorts(bridge=5080))
    assert wide.events_url == "http://127.0.0.1:5080/events"  # the local registry
    assert f"url: http://{socket.gethostname()}:5080/events" in registry_snippet(wide)
