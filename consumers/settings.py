"""Consumer settings: one frozen dataclass, parsed once from ``REGBRIDGE_*`` variables
by :func:`load` (the CLI calls it) and passed down. See ``docs/configuration.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.contract import DEFAULT_PREFIX, TopicRouter
from common.environ import Environ
from common.kafka import KafkaSettings
from common.logs import LogSettings
from common.retry import Backoff
from consumers.handlers import OBSERVERS
from consumers.handlers.base import HandlerOptions
from consumers.runner.loop import LoopSettings
from consumers.store.retention import RetentionSettings

DEFAULT_DATABASE_URL = "sqlite:///./var/registry.db"
DEFAULT_METRICS_PORTS = {"push": 9465, "pull": 9466, "other": 9467}
DEFAULT_METRICS_HOST = "127.0.0.1"  # loopback unless REGBRIDGE_METRICS_HOST says otherwise
AUTO_OFFSET_RESETS = ("earliest", "latest")


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    handler: str
    kafka: KafkaSettings
    topic_prefix: str = DEFAULT_PREFIX
    group_id: str = ""
    database_url: str = DEFAULT_DATABASE_URL
    metrics_host: str = DEFAULT_METRICS_HOST
    metrics_port: int = 0  # 0: no metrics server
    batch_max_records: int = 5000
    poll_timeout_ms: int = 500
    max_partition_fetch_bytes: int = 8 * 1024 * 1024
    session_timeout_ms: int = 10_000
    auto_offset_reset: str = "earliest"
    retry_initial_s: float = 0.2
    retry_max_s: float = 10.0
    max_attempts: int = 3
    dedup_retention_hours: float = 168.0
    health_stale_s: float = 60.0
    fetch_stale_s: float = 15.0  # see LoopSettings; tests shorten it
    migrate_on_start: bool = True
    store_start_timeout_s: float = 60.0
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    ignore_useragents: tuple[str, ...] = ()  # globs; only the pull handler reads them
    log: LogSettings = field(default_factory=LogSettings)

    @property
    def router(self) -> TopicRouter:
        return TopicRouter(prefix=self.topic_prefix)

    @property
    def topic(self) -> str:
        return self.router.handler_topic(self.handler)

    @property
    def topics(self) -> list[str]:
        """What the process subscribes to: its handler's topic, plus ``<prefix>.reconcile``
        for the handlers that apply the reconcile's observations."""
        extra = [self.router.reconcile_topic] if self.handler in OBSERVERS else []
        return [self.topic, *extra]

    @property
    def group(self) -> str:
        return self.group_id or f"{self.topic_prefix}.{self.handler}"

    @property
    def heartbeat_interval_ms(self) -> int:
        return max(100, self.session_timeout_ms // 3)

    @property
    def handler_options(self) -> HandlerOptions:
        return HandlerOptions(ignore_useragents=self.ignore_useragents)

    @property
    def backoff(self) -> Backoff:
        return Backoff(initial=self.retry_initial_s, maximum=self.retry_max_s)

    @property
    def loop(self) -> LoopSettings:
        return LoopSettings(
            batch_max_records=self.batch_max_records,
            poll_timeout_ms=self.poll_timeout_ms,
            backoff=self.backoff,
            health_stale_s=self.health_stale_s,
            fetch_stale_s=self.fetch_stale_s,
        )


def load(handler: str, environ: Environ | None = None) -> ConsumerSettings:
    """Settings for one consumer process running ``handler``."""
    env = environ or Environ()
    return ConsumerSettings(
        handler=handler,
        kafka=KafkaSettings.from_environ(env),
        topic_prefix=env.text("TOPIC_PREFIX", DEFAULT_PREFIX),
        group_id=env.text("CONSUMER_GROUP"),
        database_url=env.text("DATABASE_URL", DEFAULT_DATABASE_URL),
        metrics_host=env.text("METRICS_HOST", DEFAULT_METRICS_HOST),
        metrics_port=env.port("METRICS_PORT", DEFAULT_METRICS_PORTS.get(handler, 0)),
        batch_max_records=env.integer("CONSUMER_BATCH_MAX_RECORDS", 5000, minimum=1),
        poll_timeout_ms=env.integer("CONSUMER_POLL_TIMEOUT_MS", 500, minimum=1),
        max_partition_fetch_bytes=env.integer(
            "CONSUMER_MAX_PARTITION_FETCH_BYTES", 8 * 1024 * 1024, minimum=1024
        ),
        session_timeout_ms=env.integer("CONSUMER_SESSION_TIMEOUT_MS", 10_000, minimum=300),
        auto_offset_reset=env.choice("CONSUMER_AUTO_OFFSET_RESET", "earliest", AUTO_OFFSET_RESETS),
        retry_initial_s=env.number("CONSUMER_RETRY_INITIAL_SECONDS", 0.2, minimum=0.01),
        retry_max_s=env.number("CONSUMER_RETRY_MAX_SECONDS", 10.0, minimum=0.01),
        max_attempts=env.integer("CONSUMER_MAX_ATTEMPTS", 3, minimum=1),
        dedup_retention_hours=env.number("CONSUMER_DEDUP_RETENTION_HOURS", 168.0, minimum=0.0),
        health_stale_s=env.number("CONSUMER_HEALTH_STALE_SECONDS", 60.0, minimum=1.0),
        migrate_on_start=env.flag("CONSUMER_MIGRATE_ON_START", True),
        store_start_timeout_s=env.number("STORE_START_TIMEOUT_SECONDS", 60.0, minimum=0.0),
        retention=RetentionSettings.from_environ(env),
        ignore_useragents=env.items("LIFECYCLE_IGNORE_USERAGENTS"),
        log=LogSettings.from_environ(env),
    )
