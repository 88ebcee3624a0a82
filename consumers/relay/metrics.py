"""Prometheus metrics of the relay, one ``subscription`` label each, on a registry the owner
passes in (the process serves it with the consumers' metrics server).

=================================================  =========================================
``regbridge_relay_delivered_total``                events the subscription's URL took (2xx)
``regbridge_relay_failed_total``                   events given up and sent to ``<prefix>.dlq``
``regbridge_relay_retries_total``                  attempts after the first one
``regbridge_relay_skipped_total``                  events its actions and filters left out
``regbridge_relay_attempt_seconds``                one HTTP attempt, request to answer
=================================================  =========================================

Lag is the runner's: ``regbridge_consumer_lag{handler="relay.<subscription>",topic,partition}``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

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

    def of(self, subscription: str) -> SubscriptionMetrics:
        return SubscriptionMetrics(self, subscription)


class SubscriptionMetrics:
    """One subscription's children of the relay metrics, made at once so that every series
    exists (at 0) from the start."""

    def __init__(self, metrics: RelayMetrics, subscription: str) -> None:
        self.name = subscription
        self._delivered = metrics.delivered.labels(subscription)
        self._failed = metrics.failed.labels(subscription)
        self._retries = metrics.retries.labels(subscription)
        self._skipped = metrics.skipped.labels(subscription)
        self._latency = metrics.latency.labels(subscription)

    def delivered(self, count: int = 1) -> None:
        self._delivered.inc(count)

    def failed(self, count: int = 1) -> None:
        self._failed.inc(count)

    def retried(self, count: int = 1) -> None:
        self._retries.inc(count)

    def skipped(self, count: int = 1) -> None:
        self._skipped.inc(count)

    def attempt(self, attempt: Attempt) -> None:
        """One HTTP attempt: its latency, and a retry when it was not the first."""
        self._latency.observe(attempt.seconds)
        if attempt.number > 1:
            self._retries.inc()
