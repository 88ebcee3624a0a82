"""``registry-consumer reconcile --once`` as an operator runs it: one JSON line on stdout and
exit 0; exit 1 with a line saying whether the registry is unreachable or refuses the
credentials; exit 2 with a line naming the variable on a configuration error."""

from __future__ import annotations

import subprocess

import orjson
import pytest

from devstack.ports import free_port
from tests.consumers.conftest import MakeSettings
from tests.consumers.reconcile.conftest import READER, Filled
from tests.support.processes import clean_env, venv_command

pytestmark = pytest.mark.kafka
# the store plays no part in what these check: one backend is enough
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])


def once(**env: str) -> subprocess.CompletedProcess[str]:
    command = [venv_command("registry-consumer"), "reconcile", "--once"]
    return subprocess.run(
        command, env=clean_env(**env), capture_output=True, text=True, timeout=120, check=False
    )


def base(make_settings: MakeSettings, url: str, user: tuple[str, str] = READER) -> dict[str, str]:
    consumer = make_settings("push")
    return {
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": consumer.kafka.bootstrap_servers,
        "REGBRIDGE_TOPIC_PREFIX": consumer.topic_prefix,
        "REGBRIDGE_DATABASE_URL": consumer.database_url,
        "REGBRIDGE_REGISTRY_URL": url,
        "REGBRIDGE_REGISTRY_USERNAME": user[0],
        "REGBRIDGE_REGISTRY_PASSWORD": user[1],
        "REGBRIDGE_REGISTRY_ATTEMPTS": "1",
        "REGBRIDGE_RECONCILE_SETTLE_SECONDS": "0",
        "REGBRIDGE_LOG_FORMAT": "json",
    }


@SQLITE_ONLY
def test_once_prints_one_json_line_and_exits_0(filled: Filled, make_settings: MakeSettings) -> None:
    done = once(**base(make_settings, filled.url))
    assert done.returncode == 0, done.stderr[-2000:]
    [line] = done.stdout.splitlines()
    summary = orjson.loads(line)
    assert {"repositories", "tags", "manifests_fetched", "repairs", "seconds"} <= set(summary)
    assert summary["repositories"] == 5 and summary["status"] == "ok"
    assert "reconcile pass ok" in done.stderr, "logs and progress go to stderr"


@SQLITE_ONLY
def test_once_says_when_the_registry_is_unreachable_or_refuses_the_credentials(
    filled: Filled, make_settings: MakeSettings
) -> None:
    down = once(**base(make_settings, f"http://127.0.0.1:{free_port()}"))
    assert down.returncode == 1
    assert "is unreachable" in down.stderr.splitlines()[-1]
    refused = once(**base(make_settings, filled.url, ("bob", "wrong")))
    assert refused.returncode == 1
    assert "refuses the credentials" in refused.stderr.splitlines()[-1]
    assert orjson.loads(refused.stdout)["status"] == "failed"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "REGBRIDGE_REGISTRY_URL is required"),
        ({"REGBRIDGE_REGISTRY_URL": "registry:5000"}, "REGBRIDGE_REGISTRY_URL="),
        (
            {"REGBRIDGE_REGISTRY_URL": "http://r", "REGBRIDGE_REGISTRY_USERNAME": "bob"},
            "REGBRIDGE_REGISTRY_PASSWORD",
        ),
        (
            {"REGBRIDGE_REGISTRY_URL": "http://r", "REGBRIDGE_RECONCILE_MAX_RPS": "fast"},
            "REGBRIDGE_RECONCILE_MAX_RPS",
        ),
    ],
)
def test_a_configuration_error_exits_2_naming_the_variable(env: dict[str, str], named: str) -> None:
    done = once(REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9", **env)
    assert done.returncode == 2
    assert named in done.stderr and done.stdout == ""
