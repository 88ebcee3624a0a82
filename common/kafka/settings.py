"""Where a process finds Kafka and who it says it is: :class:`KafkaSettings`, read once
from ``REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS``, ``REGBRIDGE_KAFKA_CLIENT_ID`` and the
``REGBRIDGE_KAFKA_*`` security variables (:mod:`common.kafka.security`).

The bootstrap list is checked when it is read: ``host:port`` entries separated by commas
(``[::1]:9092`` for IPv6), ports 1-65535. It is required: only ``registry-bridge dev``
supplies one (its embedded broker) for the processes it starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from common.environ import PREFIX, ConfigError, Environ
from common.kafka.security import KafkaSecurity

VARIABLE = PREFIX + "KAFKA_BOOTSTRAP_SERVERS"
DEFAULT_CLIENT_ID = "registry-kafka-bridge"
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?)$")


def parse_bootstrap(text: str, variable: str = VARIABLE) -> str:
    """``text`` normalised (no blanks), or :class:`ConfigError` naming ``variable``."""
    entries = [part.strip() for part in text.split(",") if part.strip()]
    if not entries:
        raise ConfigError(f"{variable} is required: host:port of one or more Kafka brokers")
    for entry in entries:
        host, sep, port = entry.rpartition(":")
        if not sep or not host:
            raise ConfigError(f"{variable}: {entry!r} is not host:port")
        if not _HOST.match(host):
            raise ConfigError(f"{variable}: {entry!r} has no valid host name or address")
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ConfigError(f"{variable}: {entry!r} has no port between 1 and 65535")
    return ",".join(entries)


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """One process's view of Kafka; every client it makes comes from
    :class:`~common.kafka.clients.KafkaClients` built on these."""

    bootstrap_servers: str
    security: KafkaSecurity = field(default_factory=KafkaSecurity)
    client_id: str = DEFAULT_CLIENT_ID

    @classmethod
    def from_environ(cls, env: Environ) -> KafkaSettings:
        return cls(
            bootstrap_servers=parse_bootstrap(env.text("KAFKA_BOOTSTRAP_SERVERS")),
            security=KafkaSecurity.from_environ(env),
            client_id=env.text("KAFKA_CLIENT_ID", DEFAULT_CLIENT_ID),
        )
