"""Relay process settings: one frozen dataclass, parsed once from ``REGBRIDGE_*`` variables by
:func:`load_settings` (the CLI calls it) and passed down. See ``docs/configuration.md``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.contract import DEFAULT_PREFIX, TopicRouter
from common.environ import ConfigError, Environ
from consumers.relay.config import RelayConfig, Subscription, load_config
from consumers.settings import ConsumerSettings

DEFAULT_BOOTSTRAP = "localhost:9092"
DEFAULT_METRICS_PORT = 9468
AUTO_OFFSET_RESETS = ("earliest", "latest")


@dataclass(frozen=True, slots=True)
class RelaySettings:
    config: RelayConfig
    config_path: Path
    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    topic_prefix: str = DEFAULT_PREFIX
    group_prefix: str = ""  # empty: <topic prefix>.relay
    metrics_host: str = "0.0.0.0"
    metrics_port: int = DEFAULT_METRICS_PORT  # 0: no metrics server
    batch_max_records: int = 100
    poll_timeout_ms: int = 500
    session_timeout_ms: int = 10_000
    max_poll_interval_ms: int = 86_400_000
    auto_offset_reset: str = "latest"
    log_level: str = "INFO"
    log_format: str = "auto"
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
        return [self.router.handler_topic(suffix) for suffix in subscription.topics]

    @property
    def heartbeat_interval_ms(self) -> int:
        return max(100, self.session_timeout_ms // 3)


def load_settings(env: Environ) -> RelaySettings:
    """Settings from ``REGBRIDGE_*`` variables; the subscription file's ``secret_env`` entries
    are read from the same environment."""
    path = Path(env.required("RELAY_CONFIG"))
    reset = env.text("RELAY_AUTO_OFFSET_RESET", "latest").lower()
    if reset not in AUTO_OFFSET_RESETS:
        raise ConfigError(f"REGBRIDGE_RELAY_AUTO_OFFSET_RESET={reset!r}: use earliest or latest")
    config = load_config(path, env.variable)
    return RelaySettings(
        config=config,
        config_path=path,
        bootstrap_servers=env.text("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP),
        topic_prefix=env.text("TOPIC_PREFIX", DEFAULT_PREFIX),
        group_prefix=env.text("RELAY_GROUP_PREFIX"),
        metrics_host=env.text("METRICS_HOST", "0.0.0.0"),
        metrics_port=_metrics_port(env),
        batch_max_records=env.integer("RELAY_BATCH_MAX_RECORDS", 100, minimum=1),
        poll_timeout_ms=env.integer("RELAY_POLL_TIMEOUT_MS", 500, minimum=1),
        session_timeout_ms=env.integer("RELAY_SESSION_TIMEOUT_MS", 10_000, minimum=300),
        max_poll_interval_ms=env.integer("RELAY_MAX_POLL_INTERVAL_MS", 86_400_000, minimum=1000),
        auto_offset_reset=reset,
        log_level=env.text("LOG_LEVEL", "INFO"),
        log_format=env.text("LOG_FORMAT", "auto"),
        only=_only(env, config, path),
    )


def _metrics_port(env: Environ) -> int:
    port = env.integer("METRICS_PORT", DEFAULT_METRICS_PORT, minimum=0)
    if port > 65535:
        raise ConfigError(f"REGBRIDGE_METRICS_PORT={port} is not a TCP port")
    return port


def _only(env: Environ, config: RelayConfig, path: Path) -> tuple[str, ...]:
    only = env.items("RELAY_SUBSCRIPTIONS")
    unknown = sorted(set(only) - {s.name for s in config.subscriptions})
    if unknown:
        raise ConfigError(
            f"REGBRIDGE_RELAY_SUBSCRIPTIONS names no subscription of {path}: {', '.join(unknown)}"
        )
    return only


def runner_settings(settings: RelaySettings, subscription: Subscription) -> ConsumerSettings:
    """What the consumers runner needs for one subscription. Health turns stale only when a
    batch takes longer than the retry policy allows one event (plus its attempts' timeouts)."""
    retry = subscription.retry
    slowest_event = retry.longest + retry.max_attempts * subscription.timeout
    return ConsumerSettings(
        handler=f"relay.{subscription.name}",
        bootstrap_servers=settings.bootstrap_servers,
        topic_prefix=settings.topic_prefix,
        group_id=settings.group(subscription),
        metrics_port=0,  # the relay process serves one registry for all subscriptions
        batch_max_records=settings.batch_max_records,
        poll_timeout_ms=settings.poll_timeout_ms,
        session_timeout_ms=settings.session_timeout_ms,
        auto_offset_reset=settings.auto_offset_reset,
        dedup_retention_hours=0.0,  # no store: receivers deduplicate on X-Registry-Event-Id
        health_stale_s=max(60.0, slowest_event * settings.batch_max_records + 60.0),
        migrate_on_start=False,
        log_level=settings.log_level,
        log_format=settings.log_format,
    )
