"""bridge.tally exposes exactly what prometheus_client's Counter and Histogram would for the
same updates (only the ``_created`` timestamps differ, by when each was made)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

from bridge.metrics import LATENCY_BUCKETS
from bridge.tally import LatencyHistogram, Tally, TallyCollector


def exposition(registry: CollectorRegistry) -> list[str]:
    lines = generate_latest(registry).decode().splitlines()
    return sorted(line for line in lines if "_created" not in line)


def test_same_exposition_as_prometheus_client() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    tally = Tally("regbridge_events_received", "Events received, by action", "action")
    latency = LatencyHistogram("regbridge_publish_seconds", "Publish latency", LATENCY_BUCKETS)
    ours.register(TallyCollector(tally, latency))
    counter = Counter("regbridge_events_received", "Events received, by action", ["action"], registry=theirs)
    histogram = Histogram(
        "regbridge_publish_seconds", "Publish latency", buckets=LATENCY_BUCKETS, registry=theirs
    )
    for action in ("push", "pull", "pull", "delete", "pull"):
        tally.inc(action)
        counter.labels(action).inc()
    for seconds in (0.0001, 0.0005, 0.0007, 0.001, 0.3, 2.5, 7.0, 0.02):  # on and between bounds
        latency.observe(seconds)
        histogram.observe(seconds)
    assert exposition(ours) == exposition(theirs)
    created = [line for line in generate_latest(ours).decode().splitlines() if line.startswith("regbridge")]
    assert sum("_created" in line for line in created) == 4  # one per label value, one for the histogram
