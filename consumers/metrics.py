"""Prometheus metrics of one consumer process, in its own ``CollectorRegistry`` (served by
:mod:`consumers.metrics_server`).

===============================================  ==========================================
``regbridge_consumer_processed_total``           events persisted (first deliveries)
``regbridge_consumer_duplicates_total``          redelivered events skipped by event id
``regbridge_consumer_failed_total{kind}``        failures: ``transient`` (retried) or
                                                 ``permanent`` (a record given up)
``regbridge_consumer_dead_lettered_total``       records written to ``<prefix>.dlq``
``regbridge_consumer_lag{topic,partition}``      records behind the partition's high water
``regbridge_consumer_batch_seconds``             time from poll to offset commit, per batch
``regbridge_consumer_batch_records``             records per batch
``regbridge_consumer_pruned_rows_total{table}``  statistics rows dropped by the retention
``regbridge_consumer_prune_seconds{table}``      how long the table's last prune run took
===============================================  ==========================================
Every metric carries a ``handler`` label (push, pull, other).
"""

from __future__ import annotations

import copy

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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

        self._pruned = Counter(
            "regbridge_consumer_pruned_rows",
            "Statistics rows dropped by the retention.",
            [*labels, "table"],
            registry=self.registry,
        )
        self._prune_seconds = Gauge(
            "regbridge_consumer_prune_seconds",
            "Duration of the table's last prune run.",
            [*labels, "table"],
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

    def pruned(self, table: str, rows: int, seconds: float) -> None:
        self._pruned.labels(self.handler, table).inc(rows)
        self._prune_seconds.labels(self.handler, table).set(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
