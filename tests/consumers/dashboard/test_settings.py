from __future__ import annotations

import pytest

from common.environ import ConfigError, Environ
from consumers.dashboard.settings import DashboardSettings


def test_settings_come_from_the_environment_and_the_command_line_wins() -> None:
    env = Environ(
        {
            "REGBRIDGE_DATABASE_URL": "postgresql://bridge@db/registry",
            "REGBRIDGE_DASHBOARD_HOST": "0.0.0.0",
            "REGBRIDGE_DASHBOARD_PORT": "9000",
            "REGBRIDGE_DASHBOARD_REFRESH_SECONDS": "0",
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
    assert (settings.refresh_seconds, settings.migrate_on_start) == (0, False)
    assert settings.url == "http://0.0.0.0:9000/"
    assert DashboardSettings.from_environ(env, host="::1", port=8100).url == "http://[::1]:8100/"
    assert DashboardSettings.from_environ(Environ({})).url == "http://127.0.0.1:8090/"


def test_a_bad_port_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="REGBRIDGE_DASHBOARD_PORT='70000' is not a TCP port"):
        DashboardSettings.from_environ(Environ({"REGBRIDGE_DASHBOARD_PORT": "70000"}))
