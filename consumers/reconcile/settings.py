"""The reconcile's settings: one frozen dataclass, read once from ``REGBRIDGE_*`` variables by
:func:`load` (the CLI calls it) and passed down. See ``docs/configuration.md``, "Reconcile".

The registry's own variables (``REGBRIDGE_REGISTRY_*``) are read by
:class:`~consumers.registry_api.RegistrySettings`; the store, Kafka, the topic prefix, the
metrics server and the logs are read as every consumer reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.contract import DEFAULT_PREFIX, RECONCILE_USER_AGENT, TopicRouter
from common.environ import Environ
from common.kafka import KafkaSettings
from common.logs import LogSettings
from common.retry import Backoff
from consumers.registry_api import RegistrySettings
from consumers.settings import DEFAULT_DATABASE_URL, DEFAULT_METRICS_HOST

DEFAULT_METRICS_PORT = 9469
DEFAULT_INTERVAL_S = 21600.0  # six hours


@dataclass(frozen=True, slots=True)
class ReconcileSettings:
    registry: RegistrySettings
    kafka: KafkaSettings
    topic_prefix: str = DEFAULT_PREFIX
    database_url: str = DEFAULT_DATABASE_URL
    interval_s: float = DEFAULT_INTERVAL_S
    settle_s: float = 10.0
    watch_s: float = 10.0
    metrics_host: str = DEFAULT_METRICS_HOST
    metrics_port: int = DEFAULT_METRICS_PORT  # 0: no metrics server
    migrate_on_start: bool = True
    retry: Backoff = field(default_factory=lambda: Backoff(initial=5.0, maximum=300.0, jitter=0.2))
    log: LogSettings = field(default_factory=LogSettings)

    @property
    def router(self) -> TopicRouter:
        return TopicRouter(prefix=self.topic_prefix)


def load(env: Environ | None = None) -> ReconcileSettings:
    env = env or Environ()
    registry = RegistrySettings.from_environ(
        env,
        user_agent=RECONCILE_USER_AGENT,
        concurrency=env.integer("RECONCILE_CONCURRENCY", 4, minimum=1),
        max_rps=env.number("RECONCILE_MAX_RPS", 50.0, minimum=0.0),
        page_size=env.integer("RECONCILE_PAGE_SIZE", 100, minimum=1),
    )
    return ReconcileSettings(
        registry=registry,
        kafka=KafkaSettings.from_environ(env),
        topic_prefix=env.text("TOPIC_PREFIX", DEFAULT_PREFIX),
        database_url=env.text("DATABASE_URL", DEFAULT_DATABASE_URL),
        interval_s=env.number("RECONCILE_INTERVAL_SECONDS", DEFAULT_INTERVAL_S, minimum=1.0),
        settle_s=env.number("RECONCILE_SETTLE_SECONDS", 10.0, minimum=0.0),
        watch_s=env.number("RECONCILE_WATCH_SECONDS", 10.0, minimum=0.1),
        metrics_host=env.text("METRICS_HOST", DEFAULT_METRICS_HOST),
        metrics_port=env.port("METRICS_PORT", DEFAULT_METRICS_PORT),
        migrate_on_start=env.flag("CONSUMER_MIGRATE_ON_START", True),
        log=LogSettings.from_environ(env),
    )
