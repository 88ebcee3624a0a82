"""Topic routing: which topic an action's records land on, and the topics around them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

TOPIC_HANDLERS = ("push", "pull", "other")
DEFAULT_PREFIX = "registry.events"
DEFAULT_ROUTES: Mapping[str, str] = {"push": "push", "pull": "pull"}
OTHER = "other"
INVALID_SUFFIX = "invalid"
DLQ_SUFFIX = "dlq"
RECONCILE_SUFFIX = "reconcile"


@dataclass(frozen=True, slots=True)
class TopicRouter:
    """Maps an action to its topic: ``<prefix>.<suffix>``.

    ``routes`` maps action → suffix; an action not in it goes to ``<prefix>.other``.
    """

    prefix: str = DEFAULT_PREFIX
    routes: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ROUTES))

    def topic_for(self, action: str) -> str:
        return f"{self.prefix}.{self.routes.get(action, OTHER)}"

    def handler_topic(self, handler: str) -> str:
        """The topic a consumer handler (push, pull, other) reads."""
        return f"{self.prefix}.{handler}"

    @property
    def topics(self) -> tuple[str, ...]:
        """Every topic events can land on, sorted."""
        return tuple(sorted({f"{self.prefix}.{s}" for s in (*self.routes.values(), OTHER)}))

    @property
    def invalid_topic(self) -> str:
        return f"{self.prefix}.{INVALID_SUFFIX}"

    @property
    def dlq_topic(self) -> str:
        return f"{self.prefix}.{DLQ_SUFFIX}"

    @property
    def reconcile_topic(self) -> str:
        """Where ``registry-consumer reconcile`` publishes its observations."""
        return f"{self.prefix}.{RECONCILE_SUFFIX}"
