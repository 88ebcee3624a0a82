"""Every Kafka client of the project: its settings (:class:`KafkaSettings`), its security
(:class:`KafkaSecurity`) and the one factory that builds producers, consumers and admin
clients (:class:`KafkaClients`)."""
