"""The consumers' runner: a batch loop over one Kafka consumer, feeding one sink.

=================  ==================================================================
``loop``           :class:`BatchLoop`: poll, plan, take, dead-letter, commit; health
``sink``           :class:`Sink`: what a batch becomes (the interface)
``store``          :class:`StoreSink`: one transaction per batch, once per event id
``heartbeat``      ``Heartbeat``: the store sink's beat, once a minute (pipeline_uptime)
``batch``          :class:`Item` and :class:`BatchOutcome`, the batch as it moves
``transient``      :class:`TransientRetry`: retrying what fails for a while
``stop``           :class:`StopRequest`: SIGTERM, seen by every wait of the process
=================  ==================================================================

The relay's sink is :class:`consumers.relay.subscriber.SubscriptionRelay`.
"""

from consumers.runner.batch import BatchOutcome, Item
from consumers.runner.loop import ACK_POLICY, BatchLoop, LoopSettings
from consumers.runner.sink import Sink
from consumers.runner.stop import StopRequest
from consumers.runner.store import StoreSink
from consumers.runner.transient import TransientRetry

__all__ = [
    "ACK_POLICY",
    "BatchLoop",
    "BatchOutcome",
    "Item",
    "LoopSettings",
    "Sink",
    "StopRequest",
    "StoreSink",
    "TransientRetry",
]
