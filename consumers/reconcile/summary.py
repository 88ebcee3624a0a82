"""What one pass did: :class:`PassSummary`, the JSON line ``reconcile --once`` ends with, and
what the ``reconcile_passes`` row and the metrics report.

``repairs`` counts the observations published, by the repair each makes to the store as
it was when it was published; the consumers apply each one unless a newer event got there
first, and write one ``reconcile`` audit row per repair they make. ``errors`` counts what
the pass skipped, by kind: ``forbidden`` (403, or a token without that scope),
``not_found`` (a listed repository that was gone), ``bad_content`` (a manifest that does
not match its digest), ``bad_pagination``, ``unreachable`` (a repository whose requests
failed after their retries), ``unexpected`` (any other answer), ``empty_catalog`` (no
repository removed because the catalog came back empty; see ``docs/reconcile.md``).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from consumers.handlers.observed import REPAIRS


@dataclass(slots=True)
class PassSummary:
    id: str
    trigger: str
    registry: str
    started_at: datetime
    status: str = "running"
    repositories: int = 0
    tags: int = 0
    manifests_fetched: int = 0
    requests: int = 0
    repairs: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    error: str | None = None
    resume_after: str | None = None
    finished_at: datetime | None = None
    failure: BaseException | None = None  # what ended a failed pass
    _started: float = field(default_factory=time.monotonic)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self._started

    def line(self) -> dict[str, Any]:
        """The JSON object ``reconcile --once`` prints."""
        return {
            "repositories": self.repositories,
            "tags": self.tags,
            "manifests_fetched": self.manifests_fetched,
            "repairs": {kind: self.repairs[kind] for kind in REPAIRS},
            "seconds": round(self.seconds, 3),
            "status": self.status,
            "errors": dict(sorted(self.errors.items())),
            "requests": self.requests,
            "pass": self.id,
            **({"error": self.error} if self.error else {}),
        }

    def row(self) -> dict[str, Any]:
        """The ``reconcile_passes`` columns."""
        return {
            "id": self.id,
            "trigger": self.trigger,
            "registry": self.registry,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "repositories": self.repositories,
            "tags": self.tags,
            "manifests_fetched": self.manifests_fetched,
            "requests": self.requests,
            "repairs": {kind: self.repairs[kind] for kind in REPAIRS},
            "errors": dict(self.errors),
            "error": self.error,
            "resume_after": self.resume_after,
        }
