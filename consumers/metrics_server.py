"""``/metrics`` and ``/healthz`` of a consumer process: prometheus_client's ASGI app under
uvicorn, inside the process's own event loop.

``GET /metrics``  the Prometheus text format of the process's registry;
``GET /healthz``  200 while the consume loop makes progress (polls, or retries a failing
batch), 503 once it is stale or stopping.

The process owns its signals (SIGTERM finishes the batch in flight), so this server
installs none: :class:`_Server` turns uvicorn's ``capture_signals`` into a no-op (pinned
by ``tests/common/test_internals.py``). The socket is bound here, so a port that is
taken fails the start with an ``OSError`` instead of uvicorn's ``sys.exit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import orjson
import uvicorn
from prometheus_client import make_asgi_app
from prometheus_client.registry import CollectorRegistry

HealthCheck = Callable[[], tuple[bool, str]]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
log = logging.getLogger("consumers.metrics")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the consumer process handles SIGTERM and SIGINT itself


def metrics_app(registry: CollectorRegistry, health: HealthCheck) -> Callable[[Scope, Receive, Send], object]:
    prometheus = make_asgi_app(registry)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if scope["type"] == "http" and path == "/metrics":
            await prometheus(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        if path in ("/healthz", "/health"):
            ok, detail = health()
            status, body = (200 if ok else 503), orjson.dumps({"status": detail})
        else:
            status, body = 404, b'{"error":"not found"}'
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


class MetricsServer:
    """Serves ``/metrics`` and ``/healthz`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, registry: CollectorRegistry, health: HealthCheck, host: str, port: int) -> None:
        self._app = metrics_app(registry, health)
        self._host, self._port = host, port
        self._socket: socket.socket | None = None
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self._socket is not None, "not started"
        return int(self._socket.getsockname()[1])

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
        except OSError as exc:
            sock.close()
            raise OSError(
                exc.errno, f"cannot serve /metrics on {self._host}:{self._port}: {exc.strerror}"
            ) from None
        self._socket = sock
        config = uvicorn.Config(
            self._app, lifespan="off", log_config=None, access_log=False, server_header=False
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="metrics-server")
        while not self._server.started and not self._task.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()

    async def stop(self) -> None:
        server, task, self._server, self._task = self._server, self._task, None, None
        if server is not None and task is not None:
            server.should_exit = True
            try:
                await asyncio.wait_for(task, 3.0)
            except TimeoutError:
                log.warning("the metrics server did not stop within 3 s")
        if self._socket is not None:
            self._socket.close()
            self._socket = None
