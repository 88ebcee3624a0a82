"""The dashboard's settings: the store, the address, access control, TLS and limits; the
safe default (anonymous on loopback only); every variable documented."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from common.environ import ConfigError, Environ
from common.tls import DASHBOARD_TLS
from consumers.dashboard.access import ProxySettings, Role
from consumers.dashboard.settings import DashboardSettings
from consumers.relay.settings import load_settings as relay_settings
from consumers.settings import load as consumer_settings
from tests.support.paths import ROOT


def test_settings_come_from_the_environment_and_the_command_line_wins() -> None:
    env = Environ(
        {
            "REGBRIDGE_DATABASE_URL": "postgresql://bridge@db/registry",
            "REGBRIDGE_DASHBOARD_HOST": "0.0.0.0",
            "REGBRIDGE_DASHBOARD_PORT": "9000",
            "REGBRIDGE_DASHBOARD_REFRESH_SECONDS": "0",
            "REGBRIDGE_DASHBOARD_LIVE_SECONDS": "5",
            "REGBRIDGE_DASHBOARD_MIGRATE_ON_START": "false",
            "REGBRIDGE_DASHBOARD_TOKENS": "viewer-token-0123456789",
        }
    )
    settings = DashboardSettings.from_environ(env)
    assert (settings.database_url, settings.host, settings.port) == (
        "postgresql://bridge@db/registry",
        "0.0.0.0",
        9000,
    )
    assert (settings.refresh_seconds, settings.live_seconds, settings.migrate_on_start) == (0, 5, False)
    assert DashboardSettings.from_environ(Environ({})).live_seconds == 2
    assert settings.url == "http://0.0.0.0:9000/"
    assert DashboardSettings.from_environ(env, host="::1", port=8100).url == "http://[::1]:8100/"
    assert DashboardSettings.from_environ(Environ({})).url == "http://127.0.0.1:8090/"


def test_a_bad_port_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="REGBRIDGE_DASHBOARD_PORT='70000' is not a TCP port"):
        DashboardSettings.from_environ(Environ({"REGBRIDGE_DASHBOARD_PORT": "70000"}))


TOKEN = "viewer-token-0123456789"
ADMIN = "admin-token-0123456789ab"


def settings_of(**variables: str) -> DashboardSettings:
    return DashboardSettings.from_environ(Environ({f"REGBRIDGE_{k}": v for k, v in variables.items()}))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost"])
def test_without_authentication_it_serves_anonymously_on_loopback(host: str) -> None:
    settings = settings_of(DASHBOARD_HOST=host)
    assert settings.access.anonymous and settings.access.anonymous_role is Role.VIEWER


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "dashboard.example.com"])
def test_without_authentication_any_other_address_is_refused_unless_allowed(host: str) -> None:
    with pytest.raises(ConfigError, match=f"REGBRIDGE_DASHBOARD_HOST={re.escape(host)} is not a loopback"):
        settings_of(DASHBOARD_HOST=host)
    assert settings_of(DASHBOARD_HOST=host, DASHBOARD_ALLOW_ANONYMOUS="true").access.anonymous
    assert not settings_of(DASHBOARD_HOST=host, DASHBOARD_TOKENS=TOKEN).access.anonymous
    proxied = settings_of(
        DASHBOARD_HOST=host,
        DASHBOARD_TRUSTED_USER_HEADER="X-Forwarded-User",
        DASHBOARD_TRUSTED_PROXIES="10.0.0.7",
    )
    assert proxied.access.proxy.enabled and proxied.access.proxy.user_header == "x-forwarded-user"
    with pytest.raises(ConfigError, match="is not a loopback"):  # the command line's host counts
        DashboardSettings.from_environ(Environ({}), host="0.0.0.0")


def test_tokens_roles_and_sessions_come_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "admins").write_text(f"{ADMIN}\n")
    (tmp_path / "secret").write_text("k" * 40 + "\n")
    settings = settings_of(
        DASHBOARD_TOKENS=f"{TOKEN},{TOKEN}-next",
        DASHBOARD_ADMIN_TOKENS_FILE=str(tmp_path / "admins"),
        DASHBOARD_SESSION_SECRET_FILE=str(tmp_path / "secret"),
        DASHBOARD_SESSION_HOURS="0.5",
        DASHBOARD_ANONYMOUS_ROLE="admin",
        DASHBOARD_ORIGINS="https://Dashboard.example.com/",
    )
    access = settings.access
    assert access.viewer_tokens == (TOKEN, f"{TOKEN}-next") and access.admin_tokens == (ADMIN,)
    assert (access.session_secret, access.session_seconds) == ("k" * 40, 1800)
    assert access.anonymous_role is Role.ADMIN and access.origins == ("https://dashboard.example.com",)
    assert not access.secure_cookies  # plain HTTP: no Secure flag unless told
    assert settings_of(DASHBOARD_SECURE_COOKIES="true").access.secure_cookies
    assert TOKEN not in repr(settings) and ADMIN not in repr(settings) and "k" * 40 not in repr(settings)
    assert settings_of().access.session_secret != settings_of().access.session_secret  # random per start


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"DASHBOARD_TOKENS": "short"}, "REGBRIDGE_DASHBOARD_TOKENS: every token must be at least 16"),
        ({"DASHBOARD_ADMIN_TOKENS": "short"}, "REGBRIDGE_DASHBOARD_ADMIN_TOKENS: every token"),
        ({"DASHBOARD_TOKENS": TOKEN, "DASHBOARD_ADMIN_TOKENS": TOKEN}, "a token is in both"),
        ({"DASHBOARD_SESSION_SECRET": "too-short"}, "REGBRIDGE_DASHBOARD_SESSION_SECRET must be at least 32"),
        ({"DASHBOARD_SESSION_HOURS": "0"}, "REGBRIDGE_DASHBOARD_SESSION_HOURS=0.0 must be at least"),
        ({"DASHBOARD_ANONYMOUS_ROLE": "root"}, "REGBRIDGE_DASHBOARD_ANONYMOUS_ROLE='root' must be one of"),
        (
            {"DASHBOARD_ORIGINS": "dashboard.example.com"},
            "REGBRIDGE_DASHBOARD_ORIGINS: 'dashboard.example.com'",
        ),
        (
            {"DASHBOARD_TRUSTED_USER_HEADER": "X-User"},
            "TRUSTED_USER_HEADER and REGBRIDGE_DASHBOARD_TRUSTED_PROXIES go",
        ),
        (
            {"DASHBOARD_TRUSTED_PROXIES": "10.0.0.0/8"},
            "TRUSTED_USER_HEADER and REGBRIDGE_DASHBOARD_TRUSTED_PROXIES go",
        ),
        ({"DASHBOARD_TRUSTED_GROUPS_HEADER": "X-Groups"}, "TRUSTED_GROUPS_HEADER needs"),
        (
            {"DASHBOARD_TRUSTED_USER_HEADER": "X-User", "DASHBOARD_TRUSTED_PROXIES": "proxy.internal"},
            "REGBRIDGE_DASHBOARD_TRUSTED_PROXIES: 'proxy.internal' is not an address or CIDR",
        ),
        (
            {"DASHBOARD_TRUSTED_USER_HEADER": "X-User", "DASHBOARD_TRUSTED_PROXIES": "0.0.0.0/0"},
            "'0.0.0.0/0' trusts every address",
        ),
        ({"DASHBOARD_TLS_KEY_FILE": "/nonexistent.key"}, "REGBRIDGE_DASHBOARD_TLS_CERT_FILE and"),
        (
            {"DASHBOARD_MAX_HEADER_BYTES": "100"},
            "REGBRIDGE_DASHBOARD_MAX_HEADER_BYTES=100 must be at least 4096",
        ),
        ({"DASHBOARD_BODY_TIMEOUT_SECONDS": "soon"}, "REGBRIDGE_DASHBOARD_BODY_TIMEOUT_SECONDS='soon'"),
    ],
)
def test_bad_access_settings_name_the_variable(variables: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        settings_of(**variables)


def test_proxy_roles_come_from_users_and_groups() -> None:
    proxy = ProxySettings(
        user_header="x-user",
        trusted=(ipaddress.ip_network("10.0.0.0/24"),),
        admin_users=frozenset({"root"}),
        admin_groups=frozenset({"ops"}),
        viewer_groups=frozenset({"dev"}),
    )
    assert proxy.role_of("root", frozenset()) is Role.ADMIN
    assert proxy.role_of("ann", frozenset({"dev", "ops"})) is Role.ADMIN
    assert proxy.role_of("bo", frozenset({"dev"})) is Role.VIEWER
    assert proxy.role_of("cy", frozenset({"sales"})) is None
    assert ProxySettings(user_header="x-user").role_of("anyone", frozenset()) is Role.VIEWER  # no lists
    assert proxy.trusts("10.0.0.9") and not proxy.trusts("10.0.1.9") and not proxy.trusts(None)
    assert not proxy.trusts("not-an-address")


def test_the_cleanup_apply_reaches_the_registry_only_when_it_is_configured() -> None:
    assert DashboardSettings.from_environ(Environ({})).registry is None  # it starts all the same
    env = {
        "REGBRIDGE_REGISTRY_URL": "https://registry.example:5000/",
        "REGBRIDGE_REGISTRY_USERNAME": "cleaner",
        "REGBRIDGE_REGISTRY_PASSWORD": "cleaner-pw",
        "REGBRIDGE_CLEANUP_MAX_RPS": "2",
    }
    registry = DashboardSettings.from_environ(Environ(env)).registry
    assert registry is not None
    assert (registry.url, registry.username, registry.max_rps, registry.concurrency) == (
        "https://registry.example:5000",
        "cleaner",
        2.0,
        1,
    )
    assert registry.user_agent.startswith("registry-kafka-bridge-cleanup")
    with pytest.raises(ConfigError, match=re.escape("REGBRIDGE_REGISTRY_URL='registry.example' must")):
        DashboardSettings.from_environ(Environ({"REGBRIDGE_REGISTRY_URL": "registry.example"}))


def test_every_dashboard_variable_is_documented() -> None:
    modules = (
        "consumers/dashboard/settings.py",
        "consumers/dashboard/access/settings.py",
        "consumers/dashboard/limits.py",
        "consumers/lifecycle/settings.py",
    )
    source = "".join((ROOT / name).read_text() for name in modules)
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', source)) | set(DASHBOARD_TLS.names())
    assert {"DASHBOARD_TOKENS", "DASHBOARD_TRUSTED_PROXIES", "DASHBOARD_TLS_CERT_FILE"} <= names
    text = (ROOT / "docs" / "configuration.md").read_text()
    section = text.split("## Dashboard", 1)[1].split("\n## ", 1)[0]
    missing = sorted(n for n in names if f"`REGBRIDGE_{n}`" not in section)
    assert missing == []
    for secret in ("TOKENS", "ADMIN_TOKENS", "SESSION_SECRET", "TLS_KEY_PASSWORD"):
        assert (
            f"`REGBRIDGE_DASHBOARD_{secret}_FILE`" in section
            or f"`REGBRIDGE_DASHBOARD_{secret}` | " in section
        )


def test_the_consumers_and_the_relay_serve_metrics_on_loopback_by_default(tmp_path: Path) -> None:
    bootstrap = {"REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092"}
    assert consumer_settings("pull", Environ(bootstrap)).metrics_host == "127.0.0.1"
    config = tmp_path / "relay.yaml"
    config.write_text("subscriptions:\n  - name: hook\n    url: http://127.0.0.1:1/hook\n")
    relay = relay_settings(Environ({**bootstrap, "REGBRIDGE_RELAY_CONFIG": str(config)}))
    assert relay.metrics_host == "127.0.0.1"
    assert DashboardSettings().host == "127.0.0.1"
