"""The dashboard's tokens, session secret and registry password never leak (as
tests/bridge/test_secrets.py checks for the bridge): a real ``registry-consumer dashboard``
process reads them from files, logs at DEBUG, and answers good and bad tokens, a token in
the query string, sign-ins right and wrong, and a cleanup previewed and applied (an admin
action, logged and audited); no secret is in any log line, answer body, header or cookie,
nor in the settings' repr."""

from __future__ import annotations

from pathlib import Path

import httpx

from common.environ import Environ
from consumers.dashboard.access import COOKIE
from consumers.dashboard.settings import DashboardSettings
from devstack.ports import free_port
from tests.support.processes import ServiceProcess, venv_command

VIEWER = "Vw-7c1e9a2b4d6f8a0c2e4b6d8f0a1c3e5b"
ADMIN = "Ad-3f5a7c9e1b3d5f7a9c1e3b5d7f9a2c4e"
SECRET = "Ss-0a2c4e6b8d0f2a4c6e8b0d2f4a6c8e0b1d3f"
REGISTRY_PASSWORD = "Rp-5e7a9c1b3d5f7a9c1e3b5d7f9a2c4e6b"
POLICY = 'rules:\n  - repositories: "*"\n    keep_last_pushed: 1\n'


def requests_to_send(client: httpx.Client) -> list[httpx.Response]:
    def get(path: str, **headers: str) -> httpx.Response:
        return client.get(path, headers=headers)

    return [
        get("/api/v1/summary", Authorization=f"Bearer {VIEWER}"),
        get("/api/v1/summary", Authorization=f"Bearer {ADMIN}"),
        get("/api/v1/summary", Authorization=f"Bearer {VIEWER[:-1]}X"),  # near miss
        get("/api/v1/summary", Authorization=f"Bearer {VIEWER}{VIEWER}"),
        get("/api/v1/summary", Authorization=f"Basic {VIEWER}"),
        get(f"/api/v1/summary?access_token={VIEWER}"),
        get(f"/?token={ADMIN}", Accept="text/html"),
        get("/api/v1/summary", Cookie=f"{COOKIE}={VIEWER}"),
        get("/api/v1/summary"),
    ]


def cleanup(client: httpx.Client) -> list[httpx.Response]:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    plan = client.post("/api/v1/lifecycle/cleanup/preview", content=POLICY, headers=admin)
    return [plan, client.post("/api/v1/lifecycle/cleanup/apply", content=plan.content, headers=admin)]


def test_no_secret_in_any_log_line_answer_or_cookie(tmp_path: Path) -> None:
    secrets = (("viewer", VIEWER), ("admin", ADMIN), ("secret", SECRET), ("registry", REGISTRY_PASSWORD))
    for name, value in secrets:
        (tmp_path / name).write_text(f"{value}\n")
    port = free_port()
    env = {
        "REGBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path}/store.db",
        "REGBRIDGE_DASHBOARD_TOKENS_FILE": str(tmp_path / "viewer"),
        "REGBRIDGE_DASHBOARD_ADMIN_TOKENS_FILE": str(tmp_path / "admin"),
        "REGBRIDGE_DASHBOARD_SESSION_SECRET_FILE": str(tmp_path / "secret"),
        "REGBRIDGE_REGISTRY_URL": f"http://127.0.0.1:{free_port()}",
        "REGBRIDGE_REGISTRY_USERNAME": "cleaner",
        "REGBRIDGE_REGISTRY_PASSWORD_FILE": str(tmp_path / "registry"),
        "REGBRIDGE_LOG_LEVEL": "DEBUG",
        "REGBRIDGE_LOG_FORMAT": "json",
        "PYTHONASYNCIODEBUG": "1",
    }
    command = [venv_command("registry-consumer"), "dashboard", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    ready = f"{url}/healthz"
    dashboard = ServiceProcess("dashboard-secrets", command, env=env, log_dir=tmp_path, ready_url=ready)
    seen: list[str] = []
    with dashboard, httpx.Client(base_url=url, timeout=10) as client:
        answers = requests_to_send(client) + cleanup(client)
        with httpx.Client(base_url=url, timeout=10) as browser:
            answers.append(_sync_sign_in(browser, VIEWER[:-1] + "X"))  # refused
            answers.append(_sync_sign_in(browser, ADMIN))
            answers.append(browser.get("/"))
            seen.append(browser.cookies[COOKIE])
    statuses = [answer.status_code for answer in answers]
    assert statuses == [200, 200, 401, 401, 401, 400, 400, 401, 401, 200, 200, 401, 303, 200]
    seen += [text for answer in answers for text in (answer.text, str(answer.headers))]
    log = dashboard.log_path.read_text()
    assert log.count('"status":401') == 6 and "credential in a query string refused" in log  # lines written
    assert '"msg":"sign-in refused"' in log and '"msg":"signed in"' in log
    assert '"action":"dashboard.cleanup.apply"' in log  # the admin action's line
    for _, secret in secrets:
        assert secret not in log and secret[:-1] not in log
        for text in seen:
            assert secret[:12] not in text
    settings = DashboardSettings.from_environ(Environ(env))
    assert settings.registry is not None and settings.registry.password == REGISTRY_PASSWORD
    assert all(secret not in repr(settings) for _, secret in secrets)


def _sync_sign_in(client: httpx.Client, token: str) -> httpx.Response:
    origin = str(client.base_url).rstrip("/")
    return client.post("/signin", data={"token": token, "next": "/"}, headers={"Origin": origin})
