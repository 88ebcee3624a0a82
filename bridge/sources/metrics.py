"""The per-kind counters of ``/sources/<kind>/events``, on the bridge's own registry
(served at ``GET /metrics``; described in ``docs/configuration.md``). The ``kind`` label
only takes enabled kinds, never a value from the request."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class SourceMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "regbridge_source_requests",
            "Answers to /sources/<kind>/events, by kind and status",
            ["kind", "status"],
            registry=registry,
        )
        self.auth_failures = Counter(
            "regbridge_source_auth_failures",
            "Requests refused (401) for a wrong or missing signature or credential, by kind",
            ["kind"],
            registry=registry,
        )
        self.events = Counter(
            "regbridge_source_events",
            "Events normalised from a sender's payloads, by kind",
            ["kind"],
            registry=registry,
        )
        self.ignored = Counter(
            "regbridge_source_ignored",
            "Deliveries understood but not image events (answered 200, nothing published), by kind",
            ["kind"],
            registry=registry,
        )
        self.normaliser_errors = Counter(
            "regbridge_source_normaliser_errors",
            "Payloads a normaliser failed on (a bug: quarantined, the traceback logged), by kind",
            ["kind"],
            registry=registry,
        )
        self.quarantined = Counter(
            "regbridge_source_quarantined",
            "Payloads that could not be normalised (202, <prefix>.invalid), by kind",
            ["kind"],
            registry=registry,
        )
