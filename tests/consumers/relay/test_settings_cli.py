"""Relay settings come from REGBRIDGE_ variables; a bad subscription file stops the CLI with
exit status 2 and a message naming the file's line and field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from common.environ import ConfigError, Environ
from consumers.cli import main
from consumers.relay.config import Subscription
from consumers.relay.settings import load_settings, loop_settings

GOOD = (
    "subscriptions:\n  - name: deploy\n    url: http://127.0.0.1:9/hook\n    secret_env: DEPLOY_HOOK_SECRET\n"
)


def test_settings_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "relay.yaml"
    path.write_text(GOOD)
    env = {
        "REGBRIDGE_RELAY_CONFIG": str(path),
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": "k:9092",
        "REGBRIDGE_TOPIC_PREFIX": "acme.events",
        "REGBRIDGE_RELAY_BATCH_MAX_RECORDS": "7",
        "DEPLOY_HOOK_SECRET": "from-env",
    }
    settings = load_settings(Environ(env))
    (sub,) = settings.config.subscriptions
    assert sub.secret == "from-env"
    assert settings.group(sub) == "acme.events.relay.deploy"
    assert settings.topics(sub) == ["acme.events.push", "acme.events.pull", "acme.events.other"]
    assert settings.batch_max_records == 7 and settings.auto_offset_reset == "latest"
    assert settings.subscriptions == (sub,)
    assert dataclasses.replace(settings, only=("other",)).subscriptions == ()
    loop = loop_settings(settings, sub)
    assert loop.batch_max_records == 7 and loop.health_stale_s >= sub.retry.max_age


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "REGBRIDGE_RELAY_CONFIG is required"),
        ({"REGBRIDGE_RELAY_AUTO_OFFSET_RESET": "never"}, "REGBRIDGE_RELAY_AUTO_OFFSET_RESET='never'"),
        (
            {"REGBRIDGE_RELAY_BATCH_MAX_RECORDS": "0"},
            "REGBRIDGE_RELAY_BATCH_MAX_RECORDS=0 must be at least 1",
        ),
    ],
)
def test_bad_variables_are_named(tmp_path: Path, env: dict[str, str], message: str) -> None:
    path = tmp_path / "relay.yaml"
    path.write_text(GOOD)
    full = {"DEPLOY_HOOK_SECRET": "x", "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": "k:9092", **env}
    if env:
        full["REGBRIDGE_RELAY_CONFIG"] = str(path)
    with pytest.raises(ConfigError, match=message):
        load_settings(Environ(full))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("secret_env", "secret_enf"), ":4: subscriptions[0].secret_enf: unknown field"),
        (GOOD, ":4: subscriptions[0].secret_env: environment variable DEPLOY_HOOK_SECRET is not set"),
        (
            GOOD.replace("secret_env: DEPLOY_HOOK_SECRET", "secret: inline")
            + "    retry:\n      max_age: x\n",
            ":6: subscriptions[0].retry.max_age: must be a duration",
        ),
    ],
)
def test_the_cli_names_the_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "relay.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["run", "relay"], env={"REGBRIDGE_RELAY_CONFIG": str(path)})
    assert result.exit_code == 2, result.output
    assert f"configuration error: {path}{expected}" in result.output


def test_subscription_defaults_are_safe() -> None:
    sub = Subscription(name="n", url="http://x/")
    assert sub.retry.max_attempts >= 1 and sub.timeout > 0 and sub.secret is None
