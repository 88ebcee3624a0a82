"""Relay process settings: one frozen dataclass, parsed once from ``REGBRIDGE_*`` variables by
:func:`load_settings` (the CLI calls it) and passed down. See ``docs/configuration.md``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from common.contract import DEFAULT_PREFIX, TopicRouter
from common.environ import ConfigError, Environ
from common.kafka import KafkaSettings
from common.logs import LogSettings
from common.retry import Backoff
from consumers.relay.config import RelayConfig, Subscription, load_config
from consumers.runner import LoopSettings
from consumers.settings import AUTO_OFFSET_RESETS, DEFAULT_METRICS_HOST

DEFAULT_METRICS_PORT = 9468
START_BACKOFF = Backoff(initial=0.2, maximum=10.0)


@dataclass(frozen=True, slots=True)
class RelaySettings:
    config: RelayConfig
    config_path: Path
    kafka: KafkaSettings
    topic_prefix: str = DEFAULT_PREFIX
    group_prefix: str = ""  # empty: <topic prefix>.relay
    metrics_host: str = DEFAULT_METRICS_HOST
    metrics_port: int = DEFAULT_METRICS_PORT  # 0: no metrics server
    batch_max_records: int = 100
    poll_timeout_ms: int = 500
    session_timeout_ms: int = 10_000
    max_poll_interval_ms: int = 86_400_000
    auto_offset_reset: str = "latest"
    log: LogSettings = field(default_factory=LogSettings)
    only: tuple[str, ...] = ()  # run just these subscriptions (empty: all of them)

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """The subscriptions this process runs."""
        every = self.config.subscriptions
        return tuple(s for s in every if s.name in self.only) if self.only else every

    @property
    def router(self) -> TopicRouter:
        return TopicRouter(prefix=self.topic_prefix)

    def group(self, subscription: Subscription) -> str:
        """Each subscription is its own consumer group: ``<prefix>.relay.<name>``."""
        return f"{self.group_prefix or self.topic_prefix + '.relay'}.{subscription.name}"

    def topics(self, subscription: Subscription) -> list[str]:
        """``<prefix>.<suffix>`` for each of its topics, and ``<prefix>.reconcile`` when it
        asks for the reconcile's observations (``include_reconcile``)."""
        topics = [self.router.handler_topic(suffix) for suffix in subscription.topics]
        reconcile = self.router.reconcile_topic
        return [*topics, reconcile] if subscription.include_reconcile and reconcile not in topics else topics

    @property
    def heartbeat_interval_ms(self) -> int:
        return max(100, self.session_timeout_ms // 3)


def load_settings(env: Environ) -> RelaySettings:
    """Settings from ``REGBRIDGE_*`` variables; the subscription file's ``secret_env`` entries
    are read from the same environment."""
    path = Path(env.required("RELAY_CONFIG"))
    config = load_config(path, env.variable)
    return RelaySettings(
        config=config,
        config_path=path,
        kafka=KafkaSettings.from_environ(env),
        topic_prefix=env.text("TOPIC_PREFIX", DEFAULT_PREFIX),
        group_prefix=env.text("RELAY_GROUP_PREFIX"),
        metrics_host=env.text("METRICS_HOST", DEFAULT_METRICS_HOST),
        metrics_port=env.port("METRICS_PORT", DEFAULT_METRICS_PORT),
        batch_max_records=env.integer("RELAY_BATCH_MAX_RECORDS", 100, minimum=1),
        poll_timeout_ms=env.integer("RELAY_POLL_TIMEOUT_MS", 500, minimum=1),
        session_timeout_ms=env.integer("RELAY_SESSION_TIMEOUT_MS", 10_000, minimum=300),
        max_poll_interval_ms=env.integer("RELAY_MAX_POLL_INTERVAL_MS", 86_400_000, minimum=1000),
        auto_offset_reset=env.choice("RELAY_AUTO_OFFSET_RESET", "latest", AUTO_OFFSET_RESETS),
        log=LogSettings.from_environ(env),
        only=_only(env, config, path),
    )


def _only(env: Environ, config: RelayConfig, path: Path) -> tuple[str, ...]:
    only = env.items("RELAY_SUBSCRIPTIONS")
    unknown = sorted(set(only) - {s.name for s in config.subscriptions})
    if unknown:
        raise ConfigError(
            f"REGBRIDGE_RELAY_SUBSCRIPTIONS names no subscription of {path}: {', '.join(unknown)}"
        )
    return only


def loop_settings(settings: RelaySettings, subscription: Subscription) -> LoopSettings:
    """The batch loop of one subscription. Health turns stale only when a batch takes longer
    than the retry policy allows one event (plus its attempts' timeouts)."""
    retry = subscription.retry
    slowest_event = retry.longest + retry.max_attempts * subscription.timeout
    return LoopSettings(
        batch_max_records=settings.batch_max_records,
        poll_timeout_ms=settings.poll_timeout_ms,
        backoff=START_BACKOFF,
        health_stale_s=max(60.0, slowest_event * settings.batch_max_records + 60.0),
    )
