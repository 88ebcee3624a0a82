"""The one factory of Kafka clients: :class:`KafkaClients`. Every producer, consumer and
admin client of the project is made here, from one :class:`KafkaSettings`, so the TLS
and SASL settings (``REGBRIDGE_KAFKA_*``) reach every one of them.

Defaults that hold everywhere: producers use ``acks=all`` (idempotent only when asked:
the embedded broker refuses idempotent producers), consumers commit offsets themselves
(``enable_auto_commit=False``). Each client id is ``<REGBRIDGE_KAFKA_CLIENT_ID>-<role>``,
plus a short random suffix for consumers and producers of processes that may run as
several replicas. Callers own what they get: ``start()``, then ``stop()`` in ``finally``.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from common.kafka.settings import KafkaSettings


class KafkaClients:
    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings

    def client_id(self, role: str) -> str:
        return f"{self.settings.client_id}-{role}-{uuid.uuid4().hex[:6]}"

    def _common(self) -> dict[str, Any]:
        security = self.settings.security.client_kwargs()
        return {"bootstrap_servers": self.settings.bootstrap_servers, **security}

    def producer(self, role: str, *, idempotent: bool = False, **options: Any) -> AIOKafkaProducer:
        """A producer with ``acks=all``; ``options`` are aiokafka's tuning arguments."""
        return AIOKafkaProducer(
            **self._common(),
            client_id=self.client_id(role),
            acks="all",
            enable_idempotence=idempotent,
            **options,
        )

    def consumer(self, role: str, *topics: str, group_id: str | None, **options: Any) -> AIOKafkaConsumer:
        """A consumer that never commits on its own; ``options`` are aiokafka's."""
        return AIOKafkaConsumer(
            *topics,
            **self._common(),
            client_id=self.client_id(role),
            group_id=group_id,
            enable_auto_commit=False,
            **options,
        )

    def admin(self, role: str) -> AIOKafkaAdminClient:
        return AIOKafkaAdminClient(**self._common(), client_id=self.client_id(role))
