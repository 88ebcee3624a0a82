"""Prometheus metrics of the reconcile process (its own ``CollectorRegistry``, served with
``/healthz`` by :class:`consumers.metrics_server.MetricsServer`).

=====================================================  ========================================
``regbridge_reconcile_passes_total{outcome}``          passes ended: ``ok``, ``failed``,
                                                       ``interrupted``
``regbridge_reconcile_repairs_total{kind}``            observations published, by repair
``regbridge_reconcile_errors_total{kind}``             what passes skipped (``docs/reconcile.md``)
``regbridge_reconcile_registry_requests_total``        registry requests by ``method`` and
                                                       ``status`` (``2xx``…, ``error``: none)
``regbridge_reconcile_manifests_fetched_total``        manifest contents read (by tag or digest)
``regbridge_reconcile_pass_seconds``                   histogram of pass durations
``regbridge_reconcile_last_success_timestamp_seconds`` end of the last ``ok`` pass (Unix time)
``regbridge_reconcile_running``                        1 while a pass runs
``regbridge_reconcile_restarts_detected_total``        new registry instance ids seen
=====================================================  ========================================
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from consumers.reconcile.summary import PassSummary

_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)


class ReconcileMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.passes = Counter("regbridge_reconcile_passes", "Passes ended.", ["outcome"], registry=r)
        self.repairs = Counter("regbridge_reconcile_repairs", "Repairs published.", ["kind"], registry=r)
        self.errors = Counter("regbridge_reconcile_errors", "What passes skipped.", ["kind"], registry=r)
        self.requests = Counter(
            "regbridge_reconcile_registry_requests", "Registry requests.", ["method", "status"], registry=r
        )
        self.fetched = Counter("regbridge_reconcile_manifests_fetched", "Manifests read.", registry=r)
        self.seconds = Histogram(
            "regbridge_reconcile_pass_seconds", "Pass durations.", buckets=_BUCKETS, registry=r
        )
        self.last_success = Gauge(
            "regbridge_reconcile_last_success_timestamp_seconds", "End of the last ok pass.", registry=r
        )
        self.running = Gauge("regbridge_reconcile_running", "1 while a pass runs.", registry=r)
        self.restarts = Counter(
            "regbridge_reconcile_restarts_detected", "New registry instance ids.", registry=r
        )

    def request(self, method: str, status: int | None) -> None:
        """The registry client's observer: one call per HTTP request."""
        self.requests.labels(method, f"{status // 100}xx" if status else "error").inc()

    def pass_ended(self, summary: PassSummary) -> None:
        self.passes.labels(summary.status).inc()
        for kind, count in summary.repairs.items():
            self.repairs.labels(kind).inc(count)
        for kind, count in summary.errors.items():
            self.errors.labels(kind).inc(count)
        self.fetched.inc(summary.manifests_fetched)
        self.seconds.observe(summary.seconds)
        if summary.status == "ok":
            self.last_success.set(time.time())
