"""The bridge's settings: one frozen dataclass, read once from ``REGBRIDGE_*`` variables
(see ``docs/configuration.md``) in the CLI, then passed down."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.sources.settings import SourceSettings
from bridge.spool import SpoolSettings
from common.contract import DEFAULT_MAX_EVENTS, DEFAULT_PREFIX, DEFAULT_ROUTES, TopicRouter
from common.environ import PREFIX, ConfigError, Environ
from common.kafka import KafkaSettings
from common.logs import LogSettings
from common.tls import ServerTLS

MIB = 1024 * 1024
DEFAULT_HOST = "0.0.0.0"
DEFAULT_PORT = 8080
DEFAULT_IGNORED_MEDIA_TYPES: tuple[str, ...] = ()
_TOPIC_PART = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    """Everything ``registry-bridge serve`` needs; defaults are the documented ones."""

    kafka: KafkaSettings
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    auth_tokens: tuple[str, ...] = field(default=(), repr=False)
    allow_anonymous: bool = False
    topic_prefix: str = DEFAULT_PREFIX
    topic_routes: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ROUTES))
    max_body_bytes: int = MIB
    body_timeout: float = 10.0
    header_timeout: float = 10.0
    max_events_per_body: int = DEFAULT_MAX_EVENTS
    publish_timeout: float = 0.5
    retry_after_seconds: int = 1
    dedupe_window: int = 100_000
    ignore_media_types: tuple[str, ...] = DEFAULT_IGNORED_MEDIA_TYPES
    ignore_actions: tuple[str, ...] = ()
    repositories_include: tuple[str, ...] = ()
    repositories_exclude: tuple[str, ...] = ()
    ready_max_age: float = 5.0
    grace_period: float = 10.0
    log: LogSettings = field(default_factory=LogSettings)
    spool: SpoolSettings = field(default_factory=SpoolSettings)  # off unless REGBRIDGE_SPOOL_DIR is set
    tls: ServerTLS = field(default_factory=ServerTLS)
    sources: SourceSettings = field(default_factory=SourceSettings)  # none unless REGBRIDGE_SOURCES is set

    @classmethod
    def from_environ(cls, env: Environ) -> BridgeSettings:
        """Read and check every variable; a bad one raises :class:`ConfigError` naming it."""
        settings = cls(
            kafka=KafkaSettings.from_environ(env),
            host=env.text("BRIDGE_HOST", DEFAULT_HOST),
            port=env.port("BRIDGE_PORT", DEFAULT_PORT),
            auth_tokens=env.secrets("AUTH_TOKENS"),
            allow_anonymous=env.flag("ALLOW_ANONYMOUS"),
            topic_prefix=env.text("TOPIC_PREFIX", DEFAULT_PREFIX),
            topic_routes=env.pairs("TOPIC_ROUTES", DEFAULT_ROUTES),
            max_body_bytes=env.integer("MAX_BODY_BYTES", MIB, minimum=1024),
            body_timeout=env.number("BODY_TIMEOUT_SECONDS", 10.0, minimum=0.1),
            header_timeout=env.number("HEADER_TIMEOUT_SECONDS", 10.0, minimum=0.1),
            max_events_per_body=env.integer("MAX_EVENTS_PER_BODY", DEFAULT_MAX_EVENTS, minimum=1),
            publish_timeout=env.number("PUBLISH_TIMEOUT_SECONDS", 0.5, minimum=0.01),
            retry_after_seconds=env.integer("RETRY_AFTER_SECONDS", 1, minimum=0),
            dedupe_window=env.integer("DEDUPE_WINDOW", 100_000, minimum=0),
            ignore_media_types=env.items("IGNORE_MEDIA_TYPES", DEFAULT_IGNORED_MEDIA_TYPES),
            ignore_actions=env.items("IGNORE_ACTIONS"),
            repositories_include=env.items("REPOSITORIES_INCLUDE"),
            repositories_exclude=env.items("REPOSITORIES_EXCLUDE"),
            ready_max_age=env.number("READY_MAX_AGE_SECONDS", 5.0, minimum=0.5),
            grace_period=env.number("GRACE_PERIOD_SECONDS", 10.0, minimum=0.0),
            log=LogSettings.from_environ(env),
            spool=SpoolSettings.from_environ(env),
            tls=ServerTLS.from_environ(env),
            sources=SourceSettings.from_environ(env),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Cross-field rules; raises :class:`ConfigError` naming the variable."""
        if not self.auth_tokens and not self.allow_anonymous:
            raise ConfigError(
                f"{PREFIX}AUTH_TOKENS (or {PREFIX}AUTH_TOKENS_FILE) is required "
                f"unless {PREFIX}ALLOW_ANONYMOUS=true"
            )
        if not _TOPIC_PART.match(self.topic_prefix):
            raise ConfigError(f"{PREFIX}TOPIC_PREFIX={self.topic_prefix!r} is not a valid topic name")
        for action, suffix in self.topic_routes.items():
            if not _TOPIC_PART.match(suffix):
                raise ConfigError(f"{PREFIX}TOPIC_ROUTES: {action}={suffix!r} is not a valid topic suffix")
        if self.spool.directory is not None and self.spool.max_bytes < 2 * self.max_body_bytes:
            raise ConfigError(
                f"{PREFIX}SPOOL_MAX_BYTES={self.spool.max_bytes} must be at least twice "
                f"{PREFIX}MAX_BODY_BYTES={self.max_body_bytes}, or the largest bodies could never be spooled"
            )

    @property
    def router(self) -> TopicRouter:
        return TopicRouter(self.topic_prefix, dict(self.topic_routes))
