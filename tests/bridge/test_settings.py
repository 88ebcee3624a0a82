"""The bridge's settings: defaults, names, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.settings import BridgeSettings
from common.environ import ConfigError, Environ


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
