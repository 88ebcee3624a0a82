"""What the bridge answers while its broker is frozen (SIGSTOP), for docs/performance.md.

peer.sh's ack check re-POSTs the body it already used to wait for readiness, so a bridge
that deduplicates answers it 200 from its window: that event *was* acknowledged before.
This script shows both cases: the already-acknowledged id (200, duplicate) and a fresh id
(503 after the publish budget, nothing reported as a success).

    .venv/bin/python -m tests.benchmarks.frozen_broker
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from devstack.broker import EmbeddedBroker
from devstack.ports import free_port


def body(event_id: str) -> bytes:
    shared = next(
        p / "shared" for p in Path(__file__).resolve().parents if (p / "shared" / "fixtures").is_dir()
    )
    lines = (shared / "fixtures" / "registry-2.8.2-envelopes.jsonl").read_text().splitlines()
    envelope = json.loads(lines[2])["envelope"]
    envelope["events"][0]["id"] = event_id
    return json.dumps(envelope, indent=3).encode()


def main() -> None:
    port = free_port()
    with EmbeddedBroker() as broker:
        env = {
            **os.environ,
            "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "REGBRIDGE_AUTH_TOKENS": "t",
            "REGBRIDGE_LOG_LEVEL": "WARNING",
        }
        argv = [sys.executable, "-m", "bridge", "serve", "--host", "127.0.0.1", "--port", str(port)]
        bridge = subprocess.Popen(argv, env=env)
        try:
            url, headers = f"http://127.0.0.1:{port}", {"Authorization": "Bearer t"}
            for _ in range(100):
                try:
                    if httpx.get(f"{url}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            known = str(uuid.uuid4())
            print(
                "first POST:", httpx.post(f"{url}/events", content=body(known), headers=headers).status_code
            )
            assert broker.pid is not None
            os.killpg(broker.pid, signal.SIGSTOP)
            try:
                for label, event_id in (("same id again", known), ("fresh id", str(uuid.uuid4()))):
                    started = time.monotonic()
                    answer = httpx.post(f"{url}/events", content=body(event_id), headers=headers, timeout=5)
                    took = time.monotonic() - started
                    print(f"broker frozen, {label}: {answer.status_code} in {took:.2f}s {answer.text}")
            finally:
                os.killpg(broker.pid, signal.SIGCONT)
        finally:
            bridge.terminate()
            bridge.wait(timeout=30)


if __name__ == "__main__":
    main()
