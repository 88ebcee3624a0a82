"""Every Kafka client of the project: where Kafka is (:class:`KafkaSettings`), how a client
authenticates and encrypts (:class:`KafkaSecurity`), and the one factory that builds
producers, consumers and admin clients from them (:class:`KafkaClients`)."""

from common.kafka.clients import KafkaClients
from common.kafka.security import KafkaSecurity
from common.kafka.settings import KafkaSettings, parse_bootstrap

__all__ = ["KafkaClients", "KafkaSecurity", "KafkaSettings", "parse_bootstrap"]
