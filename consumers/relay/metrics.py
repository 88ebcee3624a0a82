"""Prometheus metrics of the relay, one ``subscription`` label each, on a registry the owner
passes in (the process serves it with the consumers' metrics server).

=================================================  =========================================
``regbridge_relay_delivered_total``                events the subscription's URL took (2xx)
``regbridge_relay_failed_total``                   events given up and sent to ``<prefix>.dlq``
``regbridge_relay_retries_total``                  attempts after the first one
``regbridge_relay_skipped_total``                  events its actions and filters left out
``regbridge_relay_attempt_seconds``                one HTTP attempt, request to answer
``regbridge_relay_lag{topic,partition}``           records behind the partition's high water
=================================================  =========================================
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from consumers.relay.delivery import Attempt

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class RelayMetrics:
    """All subscriptions' metrics; :meth:`of` gives one subscription's view."""

    def __init__(self, registry: CollectorRegistry) -> None:
        label = ["subscription"]
        self.registry = registry
        self.delivered = Counter("regbridge_relay_delivered", "Events delivered.", label, registry=registry)
        self.failed = Counter("regbridge_relay_failed", "Events given up (DLQ).", label, registry=registry)
        self.retries = Counter(
            "regbridge_relay_retries", "Attempts after the first.", label, registry=registry
        )
        self.skipped = Counter("regbridge_relay_skipped", "Events filtered out.", label, registry=registry)
        self.latency = Histogram(
            "regbridge_relay_attempt_seconds",
            "One HTTP attempt.",
            label,
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.lag = Gauge(
            "regbridge_relay_lag",
            "Records behind high water.",
            [*label, "topic", "partition"],
            registry=registry,
        )

    def of(self, subscription: str) -> SubscriptionMetrics:
        return SubscriptionMetrics(self, subscription)


class SubscriptionMetrics:
    def __init__(self, metrics: RelayMetrics, subscription: str) -> None:
        self._m, self.name = metrics, subscription

    def delivered(self, count: int = 1) -> None:
        self._m.delivered.labels(self.name).inc(count)

    def failed(self, count: int = 1) -> None:
        self._m.failed.labels(self.name).inc(count)

    def retried(self, count: int = 1) -> None:
        self._m.retries.labels(self.name).inc(count)

    def skipped(self, count: int = 1) -> None:
        self._m.skipped.labels(self.name).inc(count)

    def attempt(self, attempt: Attempt) -> None:
        """One HTTP attempt: its latency, and a retry when it was not the first."""
        self._m.latency.labels(self.name).observe(attempt.seconds)
        if attempt.number > 1:
            self.retried()

    def lag(self, topic: str, partition: int, value: int) -> None:
        self._m.lag.labels(self.name, topic, str(partition)).set(value)
