"""Prometheus metrics of one consumer process, in its own ``CollectorRegistry``, and a
small asyncio HTTP server for them (no web framework: consumers stay light).

``GET /metrics``  the Prometheus text format; ``GET /healthz``  200 while the consume
loop makes progress (polls, or retries a failing batch), 503 once it is stale or stopped.

===============================================  ==========================================
``regbridge_consumer_processed_total``           events persisted (first deliveries)
``regbridge_consumer_duplicates_total``          redelivered events skipped by event id
``regbridge_consumer_failed_total{kind}``        failures: ``transient`` (retried) or
                                                 ``permanent`` (a record given up)
``regbridge_consumer_dead_lettered_total``       records written to ``<prefix>.dlq``
``regbridge_consumer_lag{topic,partition}``      records behind the partition's high water
``regbridge_consumer_batch_seconds``             time from poll to offset commit, per batch
``regbridge_consumer_batch_records``             records per batch
===============================================  ==========================================
Every metric carries a ``handler`` label (push, pull, other).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

HealthCheck = Callable[[], tuple[bool, str]]
_BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SIZE_BUCKETS = (1, 10, 100, 500, 1000, 2500, 5000, 10000, 50000)


class ConsumerMetrics:
    def __init__(self, handler: str) -> None:
        self.handler = handler
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["handler"]
        self._processed = Counter(
            "regbridge_consumer_processed", "Events persisted.", labels, registry=self.registry
        )
        self._duplicates = Counter(
            "regbridge_consumer_duplicates", "Redelivered events skipped.", labels, registry=self.registry
        )
        self._failed = Counter(
            "regbridge_consumer_failed", "Failures by kind.", [*labels, "kind"], registry=self.registry
        )
        self._dead = Counter(
            "regbridge_consumer_dead_lettered", "Records sent to the DLQ.", labels, registry=self.registry
        )
        self._lag = Gauge(
            "regbridge_consumer_lag",
            "Records behind high water.",
            [*labels, "topic", "partition"],
            registry=self.registry,
        )
        self._batch = Histogram(
            "regbridge_consumer_batch_seconds",
            "Poll to commit.",
            labels,
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self._size = Histogram(
            "regbridge_consumer_batch_records",
            "Records per batch.",
            labels,
            buckets=_SIZE_BUCKETS,
            registry=self.registry,
        )

    def labelled(self, handler: str) -> ConsumerMetrics:
        """The same collectors and registry, reporting under another ``handler`` label, so one
        process can serve several runners (the relay runs one per subscription)."""
        twin = copy.copy(self)
        twin.handler = handler
        return twin

    def processed(self, count: int) -> None:
        self._processed.labels(self.handler).inc(count)

    def duplicates(self, count: int) -> None:
        self._duplicates.labels(self.handler).inc(count)

    def failed(self, kind: str, count: int = 1) -> None:
        self._failed.labels(self.handler, kind).inc(count)

    def dead_lettered(self, count: int) -> None:
        self._dead.labels(self.handler).inc(count)

    def lag(self, topic: str, partition: int, value: int) -> None:
        self._lag.labels(self.handler, topic, str(partition)).set(value)

    def batch(self, seconds: float, records: int) -> None:
        self._batch.labels(self.handler).observe(seconds)
        self._size.labels(self.handler).observe(records)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsServer:
    """Serves ``/metrics`` and ``/healthz`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, metrics: ConsumerMetrics, health: HealthCheck, host: str, port: int) -> None:
        self._metrics, self._health = metrics, health
        self._host, self._port = host, port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    def _respond(self, path: str) -> tuple[str, str, bytes]:
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, self._metrics.render()
        if path in ("/healthz", "/health"):
            ok, detail = self._health()
            status = "200 OK" if ok else "503 Service Unavailable"
            return status, "application/json", b'{"status":"%s"}' % detail.encode()
        return "404 Not Found", "text/plain", b"not found\n"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            parts = request.split(b" ", 2)
            path = parts[1].decode(errors="replace").split("?", 1)[0] if len(parts) > 1 else "/"
            status, content_type, body = self._respond(path)
            head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
