"""Prometheus metrics of one bridge app, on a registry of its own (never the global one),
served at ``GET /metrics``. Each metric is described in ``docs/configuration.md``.

The four that every request updates (events received and published, answers, publish
latency) are :mod:`bridge.tally` counters, cheaper per update than prometheus_client's; the
rest are prometheus_client's."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge
from prometheus_client.exposition import generate_latest

from bridge.tally import LatencyHistogram, Tally, TallyCollector
from common.contract import KNOWN_ACTIONS

# labels come from untrusted input: only known actions get their own label value
ACTION_LABELS = frozenset((*KNOWN_ACTIONS, "rename"))
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


STATUS_LABELS = {status: str(status) for status in (200, 202, 401, 408, 413, 503)}


def action_label(action: str) -> str:
    return action if action in ACTION_LABELS else "other"


class BridgeMetrics:
    """The counters, histogram and gauge of the receiver."""

    def __init__(
        self, in_flight: Callable[[], float] = lambda: 0.0, registry: CollectorRegistry | None = None
    ) -> None:
        """``in_flight`` is read at scrape time (the app's count of requests in flight)."""
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.received = Tally("regbridge_events_received", "Events received, by action", "action")
        self.published = Tally(
            "regbridge_events_published", "Records acknowledged by Kafka, by topic", "topic"
        )
        self.filtered = Counter(
            "regbridge_events_filtered", "Events dropped by a filter, by rule", ["reason"], registry=r
        )
        self.duplicates = Counter(
            "regbridge_events_duplicate", "Events not republished because their id was seen", registry=r
        )
        self.quarantined = Counter(
            "regbridge_quarantined",
            "Bodies (envelope) and events (event) sent to <prefix>.invalid",
            ["kind"],
            registry=r,
        )
        self.auth_failures = Counter(
            "regbridge_auth_failures", "Requests refused for a missing or wrong token", registry=r
        )
        self.body_timeouts = Counter(
            "regbridge_body_timeouts", "Requests answered 408: the body was not received in time", registry=r
        )
        self.publish_failures = Counter(
            "regbridge_publish_failures", "Envelopes answered 503 because Kafka did not ack", registry=r
        )
        self.requests = Tally("regbridge_requests", "POST /events answers, by status", "status")
        self.publish_latency = LatencyHistogram(
            "regbridge_publish_seconds",
            "Time from handing an envelope's records to Kafka until every ack",
            LATENCY_BUCKETS,
        )
        r.register(TallyCollector(self.received, self.published, self.requests, self.publish_latency))
        self.in_flight = Gauge("regbridge_requests_in_flight", "POST /events being handled", registry=r)
        self.in_flight.set_function(in_flight)

    def count_received(self, action: str) -> None:
        self.received.inc(action_label(action))

    def count_published(self, topic: str) -> None:
        self.published.inc(topic)

    def count_answer(self, status: int) -> None:
        self.requests.inc(STATUS_LABELS.get(status) or str(status))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
