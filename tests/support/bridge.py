"""Running the real bridge inside a test: uvicorn on a free port, its lifespan included,
and an httpx client pointed at it. Also how the registry serialises envelopes."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx

from bridge.lifecycle import Lifecycle
from bridge.server import BridgeServer, server_config
from bridge.settings import BridgeSettings
from common.kafka import KafkaSettings
from devstack.ports import free_port

TOKEN = "test-token"
V1 = "application/vnd.docker.distribution.events.v1+json"
V2 = "application/vnd.docker.distribution.events.v2+json"


def registry_body(envelope: dict[str, Any]) -> bytes:
    """The body as the registry sends it: JSON indented by 3 spaces."""
    return json.dumps(envelope, indent=3).encode()


def auth(token: str = TOKEN, content_type: str | None = V1) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def counts(response: httpx.Response) -> dict[str, int]:
    """The outcome counts of a 2xx answer (the ``x-regbridge-outcome`` header)."""
    pairs = (item.partition("=") for item in response.headers["x-regbridge-outcome"].split(","))
    return {name: int(value) for name, _, value in pairs}


def bridge_settings(bootstrap: str, prefix: str, **overrides: Any) -> BridgeSettings:
    base = BridgeSettings(
        kafka=KafkaSettings(bootstrap), auth_tokens=(TOKEN,), topic_prefix=prefix, grace_period=5.0
    )
    return replace(base, **overrides)


@dataclass
class RunningBridge:
    url: str
    client: httpx.AsyncClient
    server: BridgeServer
    lifecycle: Lifecycle

    async def post(self, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post("/events", content=body, headers=auth() if headers is None else headers)

    async def wait_ready(self, within: float = 20.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if (await self.client.get("/readyz")).status_code == 200:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the bridge at {self.url} did not become ready within {within}s")

    async def metric(self, name: str) -> float:
        """The sum of the samples called exactly ``name`` (any labels)."""
        text = (await self.client.get("/metrics")).text
        lines = [line for line in text.splitlines() if line.startswith((name + "{", name + " "))]
        return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


@asynccontextmanager
async def running_bridge(
    settings: BridgeSettings, *, ready: bool = True, verify: ssl.SSLContext | bool = True
) -> AsyncIterator[RunningBridge]:
    """``verify`` is the client's TLS context when the settings turn HTTPS on."""
    port = free_port()
    lifecycle = Lifecycle(settings.grace_period)
    server = BridgeServer(server_config(settings, "127.0.0.1", port, lifecycle), lifecycle)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            raise AssertionError("the bridge did not start")
        await asyncio.sleep(0.02)
    url = f"{'https' if settings.tls.enabled else 'http'}://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10, verify=verify) as client:
            running = RunningBridge(url, client, server, lifecycle)
            if ready:
                await running.wait_ready()
            yield running
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
