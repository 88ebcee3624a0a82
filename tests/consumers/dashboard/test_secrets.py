"""The dashboard's tokens and session secret never leak (as tests/bridge/test_secrets.py
checks for the bridge): a real ``registry-consumer dashboard`` process reads them from
files, logs at DEBUG, and answers good and bad tokens, a token in the query string and
sign-ins right and wrong; no secret is in any log line, answer body, header or cookie, nor
in the settings' repr."""

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


def test_no_secret_in_any_log_line_answer_or_cookie(tmp_path: Path) -> None:
    for name, value in (("viewer", VIEWER), ("admin", ADMIN), ("secret", SECRET)):
        (tmp_path / name).write_text(f"{value}\n")
    port = free_port()
    env = {
        "REGBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path}/store.db",
        "REGBRIDGE_DASHBOARD_TOKENS_FILE": str(tmp_path / "viewer"),
        "REGBRIDGE_DASHBOARD_ADMIN_TOKENS_FILE": str(tmp_path / "admin"),
        "REGBRIDGE_DASHBOARD_SESSION_SECRET_FILE": str(tmp_path / "secret"),
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
        answers = requests_to_send(client)
        with httpx.Client(base_url=url, timeout=10) as browser:
            answers.append(_sync_sign_in(browser, VIEWER[:-1] + "X"))  # refused
            answers.append(_sync_sign_in(browser, ADMIN))
            answers.append(browser.get("/"))
            seen.append(browser.cookies[COOKIE])
    statuses = [answer.status_code for answer in answers]
    assert statuses == [200, 200, 401, 401, 401, 400, 400, 401, 401, 401, 303, 200]
    seen += [text for answer in answers for text in (answer.text, str(answer.headers))]
    log = dashboard.log_path.read_text()
    assert log.count('"status":401') == 6 and "credential in a query string refused" in log  # lines written
    assert '"msg":"sign-in refused"' in log and '"msg":"signed in"' in log
    for secret in (VIEWER, ADMIN, SECRET):
        assert secret not in log and secret[:-1] not in log
        for text in seen:
            assert secret[:12] not in text
    settings = DashboardSettings.from_environ(Environ(env))
    assert all(secret not in repr(settings) for secret in (VIEWER, ADMIN, SECRET))


def _sync_sign_in(client: httpx.Client, token: str) -> httpx.Response:
    origin = str(client.base_url).rstrip("/")
    return client.post("/signin", data={"token": token, "next": "/"}, headers={"Origin": origin})
