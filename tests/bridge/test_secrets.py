"""The bearer token never leaks: a real ``registry-bridge serve`` process, reading its
token from a file, logging at DEBUG, answers good and bad requests; the token is in no log
line, no answer body or header, and not in ``/metrics``."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.tokens import TokenCheck
from devstack.ports import free_port
from tests.support.bridge import V1, registry_body
from tests.support.processes import ServiceProcess, venv_command

pytestmark = pytest.mark.kafka

TOKEN = "Tk-9f1c2d7e5a4b3c2d1e0f9a8b7c6d5e4f"


def requests_to_send(envelope: dict[str, Any]) -> list[tuple[dict[str, str], bytes]]:
    good = registry_body(envelope)
    return [
        ({"Authorization": f"Bearer {TOKEN}", "Content-Type": V1}, good),
        ({"Authorization": f"Bearer {TOKEN}", "Content-Type": V1}, good),  # a duplicate
        ({"Authorization": f"Bearer {TOKEN}"}, b"\xff\xfe not json " + TOKEN.encode()),
        ({"Authorization": f"Bearer {TOKEN}"}, b'{"events": [{"id": 1}, "' + TOKEN.encode() + b'"]}'),
        ({"Authorization": f"Bearer {TOKEN[:-1]}X"}, good),  # near miss
        ({"Authorization": f"Bearer {TOKEN}{TOKEN}"}, good),
        ({"Authorization": f"bearer  {TOKEN}"}, b'{"events": []}'),
        ({"Authorization": f"Basic {TOKEN}"}, good),
        ({"Authorization": f"Bearer {TOKEN}"}, TOKEN.encode() * 40_000),  # over 1 MiB: 413
        ({}, good),
    ]


def test_the_token_is_in_no_log_line_metric_or_answer(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, fixture_envelopes: list[dict[str, Any]]
) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text(f"{TOKEN}\n")
    port = free_port()
    env = {
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REGBRIDGE_TOPIC_PREFIX": topic_prefix,
        "REGBRIDGE_AUTH_TOKENS_FILE": str(token_file),
        "REGBRIDGE_LOG_LEVEL": "DEBUG",
        "REGBRIDGE_LOG_FORMAT": "json",
        "PYTHONASYNCIODEBUG": "1",
    }
    command = [venv_command("registry-bridge"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    bridge = ServiceProcess("bridge-secrets", command, env=env, log_dir=tmp_path, ready_url=f"{url}/readyz")
    seen: list[str] = []
    with bridge, httpx.Client(base_url=url, timeout=10) as client:
        statuses = []
        for headers, body in requests_to_send(fixture_envelopes[0]["envelope"]):
            answer = client.post("/events", content=body, headers=headers)
            statuses.append(answer.status_code)
            seen += [answer.text, str(answer.headers)]
        seen.append(client.get("/metrics").text)
        seen.append(client.get("/readyz").text)
    log = bridge.log_path.read_text()
    assert statuses == [200, 200, 202, 202, 401, 401, 200, 401, 413, 401]
    assert log.count('"status":401') == 4 and '"status":413' in log  # the lines were written
    assert TOKEN not in log
    assert TOKEN[:-1] not in log  # nor the near miss
    for text in seen:
        assert TOKEN[:12] not in text


def test_the_token_check_compares_in_constant_time_against_every_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    check = TokenCheck(["first", "second", "third"])
    assert check.allows("Bearer first")
    assert not check.allows("Bearer fir")
    digests = [hashlib.sha256(token).digest() for token in (b"first", b"second", b"third")]
    assert [b for _, b in calls] == digests * 2  # every token, no early exit on a match
    assert [a for a, _ in calls] == [digests[0]] * 3 + [hashlib.sha256(b"fir").digest()] * 3
    assert {len(a) for a, _ in calls} == {32}  # the same length whatever was presented
