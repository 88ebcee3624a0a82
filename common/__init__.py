"""What the bridge, the consumers and the dev stack share: the wire contract
(:mod:`common.contract`), reading ``REGBRIDGE_*`` settings (:mod:`common.environ`),
logging (:mod:`common.logs`), every Kafka client (:mod:`common.kafka`), retries
(:mod:`common.retry`), bearer tokens (:mod:`common.tokens`), TLS for HTTP servers
(:mod:`common.tls`) and the CLIs' configuration-error exit (:mod:`common.cli`).

Nothing here imports ``bridge``, ``consumers`` or ``devstack``; this ``__init__`` imports
nothing at all, so the contract loads without the HTTP stack or a Kafka client.
"""
