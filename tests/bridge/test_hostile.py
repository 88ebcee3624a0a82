"""Hostile clients against a real ``registry-bridge serve`` process and a real broker, over
real sockets: random bodies and headers, oversized and slow bodies, hundreds of idle
connections. The answer is always a clear 4xx, a 200 or a 202 quarantine, never a 5xx; the
process stays up and its memory stays bounded (figures in test-artifacts/hostile-rss.json)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.ports import free_port
from tests.support.broker import BrokerUnderTest
from tests.support.processes import ServiceProcess, venv_command
from tests.support.rawhttp import exchange, request_head, trickle
from tests.support.strategies import json_values

pytestmark = pytest.mark.kafka

TOKEN = "hostile-test-token"
MAX_BODY = 64 * 1024
BODY_TIMEOUT = 1.0
HEADER_TIMEOUT = 2.0
CLEAR = {200, 202, 400, 401, 408, 411, 413, 422}
HOSTILE = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@dataclass
class Bridge:
    process: ServiceProcess
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_kib(self) -> int:
        assert self.process.pid is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def alive(self) -> bool:
        return self.process.running and httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200


@pytest.fixture(scope="module")
def bridge(broker: BrokerUnderTest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    port = free_port()
    env = {
        "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "REGBRIDGE_TOPIC_PREFIX": f"hostile{port}.registry.events",
        "REGBRIDGE_AUTH_TOKENS": TOKEN,
        "REGBRIDGE_MAX_BODY_BYTES": str(MAX_BODY),
        "REGBRIDGE_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        "REGBRIDGE_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "REGBRIDGE_PUBLISH_TIMEOUT_SECONDS": "5",  # a slow broker is not what is tested here
        "REGBRIDGE_LOG_FORMAT": "json",
    }
    command = [venv_command("registry-bridge"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = ServiceProcess(
        "bridge-hostile",
        command,
        env=env,
        log_dir=tmp_path_factory.mktemp("hostile"),
        ready_url=f"http://127.0.0.1:{port}/readyz",
    )
    with process:
        yield Bridge(process, port)
        assert "Traceback" not in process.log_path.read_text(), process.log_tail()


def post(bridge: Bridge, body: bytes, headers: list[tuple[bytes, bytes]], token: str | None = TOKEN) -> int:
    framed = [*headers, (b"Content-Length", str(len(body)).encode())]
    answer = exchange(bridge.port, request_head(token, framed) + body)
    assert answer.status is not None, f"no answer: {answer.head!r}"
    return answer.status


bodies = (
    st.binary(max_size=4096)
    | json_values.map(orjson.dumps)
    | st.lists(json_values, max_size=8).map(lambda events: orjson.dumps({"events": events}))
    | (st.integers(1, 2000) | st.sampled_from([253, 254, 255, 300, 1022, 1023, 1024])).map(
        lambda depth: b'{"events": [' + b"[" * depth + b"]" * depth + b"]}"
    )
)
header_names = st.sampled_from(
    [
        b"Content-Type",
        b"Authorization",
        b"Accept",
        b"Expect",
        b"Transfer-Encoding",
        b"X-Forwarded-For",
        b"X-A",
    ]
)
header_values = st.binary(min_size=0, max_size=64).filter(lambda v: b"\r" not in v and b"\n" not in v)


@HOSTILE
@given(body=bodies)
def test_random_bodies_get_200_or_202(bridge: Bridge, body: bytes) -> None:
    status = post(bridge, body, [(b"Content-Type", b"application/json")])
    assert status in (200, 202), status


@HOSTILE
@given(headers=st.lists(st.tuples(header_names, header_values), max_size=6), body=bodies, token=st.booleans())
def test_random_headers_never_give_a_5xx(
    bridge: Bridge, headers: list[tuple[bytes, bytes]], body: bytes, token: bool
) -> None:
    answer = exchange(bridge.port, request_head(TOKEN if token else None, headers) + body, within=5)
    if answer.status is None:  # the parser refused the bytes and closed, or waits for a body
        assert bridge.alive()
        return
    assert answer.status in CLEAR, (answer.status, answer.head)


def test_a_declared_oversized_body_is_refused_before_it_is_sent(bridge: Bridge) -> None:
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=5) as sock:
        sock.sendall(request_head(TOKEN, [(b"Content-Length", str(10**12).encode())]))
        sock.settimeout(5)
        first = sock.recv(65536)  # answered without a single body byte sent
    assert first.startswith(b"HTTP/1.1 413 ")


def test_a_streamed_oversized_body_gets_413(bridge: Bridge) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY // 1024 + 8):
            yield b"x" * 1024

    with httpx.Client(base_url=bridge.url, timeout=10) as client:
        try:
            status = client.post(
                "/events", content=chunks(), headers={"Authorization": f"Bearer {TOKEN}"}
            ).status_code
        except httpx.WriteError:  # the server answered and stopped reading: fine, as long as it said 413
            status = 413
    assert status == 413


def test_a_slow_body_is_timed_out_with_408(bridge: Bridge) -> None:
    body = orjson.dumps({"events": []}) + b" " * 200
    head = request_head(TOKEN, [(b"Content-Length", str(len(body)).encode())])
    answer, took = trickle(bridge.port, head, body, every=0.2, within=15)
    assert answer.status == 408 and b"error" in answer.body
    assert answer.closed  # the connection is not kept for the rest of the body
    assert took < BODY_TIMEOUT + 5
    stalled, _ = trickle(bridge.port, head, body[:10], every=0.2, within=15)  # sends 10 bytes, then nothing
    assert stalled.status == 408


def open_idle(port: int, count: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]


def normal_posts(bridge: Bridge, count: int) -> list[int]:
    body = b'{"events": []}'
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: post(bridge, body, []), range(count)))


def test_hundreds_of_idle_connections_do_not_stop_normal_traffic(bridge: Bridge) -> None:
    idle = open_idle(bridge.port, 500)
    partial = open_idle(bridge.port, 50)
    try:
        for sock in partial:  # headers begun, never finished
            sock.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\n")
        statuses = normal_posts(bridge, 100)
    finally:
        for sock in idle + partial:
            sock.close()
    assert statuses == [200] * 100


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed ``sock`` (None: still open after ``seconds``)."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        data = sock.recv(65536)
    except TimeoutError:
        return None
    except ConnectionError:
        data = b""
    assert data == b"", data
    return time.monotonic() - started


def test_silent_and_slow_header_connections_are_closed(bridge: Bridge) -> None:
    silent = socket.create_connection(("127.0.0.1", bridge.port), timeout=5)
    slow = socket.create_connection(("127.0.0.1", bridge.port), timeout=5)
    try:
        started = time.monotonic()
        for byte in b"POST /events HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 100:  # a byte every 0.2 s
            try:
                slow.sendall(bytes([byte]))
            except ConnectionError:
                break  # closed by the server
            time.sleep(0.2)
        assert time.monotonic() - started < HEADER_TIMEOUT + 5
        closed_silent = closed_within(silent, HEADER_TIMEOUT + 5)
        closed_slow = closed_within(slow, HEADER_TIMEOUT + 5)
    finally:
        silent.close()
        slow.close()
    assert closed_silent is not None and closed_slow is not None
    answered = post(bridge, b'{"events": []}', [])  # a normal request right after still works
    assert answered == 200


def hostile_burst(bridge: Bridge) -> dict[str, int]:
    """Garbage, deep nesting, oversized and slow bodies, many connections, all at once."""
    garbage = [
        bytes(range(256)) * (MAX_BODY // 256 - 1),
        b"[" * 60_000,
        b'{"events": [' + b"{}," * 20_000 + b"{}]}",
    ]
    sent: dict[str, int] = {}
    idle = open_idle(bridge.port, 300)
    try:
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda i: post(bridge, garbage[i % 3], []), range(300)))
            too_big = list(
                pool.map(
                    lambda _: (
                        exchange(bridge.port, request_head(TOKEN, [(b"Content-Length", b"999999999")])).status
                    ),
                    range(100),
                )
            )
            slow_head = request_head(TOKEN, [(b"Content-Length", b"100")])
            slow = list(
                pool.map(lambda _: trickle(bridge.port, slow_head, b"x" * 100, 0.1, 10)[0].status, range(32))
            )
    finally:
        for sock in idle:
            sock.close()
    assert set(statuses) <= {202} and set(too_big) == {413} and set(slow) == {408}
    sent.update(garbage=len(statuses), oversized=len(too_big), slow=len(slow), idle=len(idle))
    return sent


def test_memory_stays_bounded_under_a_hostile_burst(bridge: Bridge, artifacts_dir: Path) -> None:
    normal_posts(bridge, 50)  # warm up
    before = bridge.rss_kib()
    figures: dict[str, object] = {"rss_before_kib": before}
    for round_ in range(3):
        figures[f"burst_{round_}"] = hostile_burst(bridge)
        figures[f"rss_after_burst_{round_}_kib"] = bridge.rss_kib()
    time.sleep(1)
    after = bridge.rss_kib()
    figures["rss_after_kib"] = after
    (artifacts_dir / "hostile-rss.json").write_text(json.dumps(figures, indent=2))
    print("hostile burst RSS figures:", figures)
    assert bridge.alive()
    assert normal_posts(bridge, 20) == [200] * 20
    # three bursts of about 20 MiB of hostile bodies each; the bridge keeps none of them
    assert after - before < 64 * 1024, figures
