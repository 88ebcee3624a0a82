"""The bridge's durable spool: where an envelope's records wait, fsync'd on local disk,
while Kafka cannot acknowledge them in time, and from where they are republished in order.

The receiver sees only this face: :class:`SpoolSettings` (``REGBRIDGE_SPOOL_*``),
:func:`spooling` (the spool and its drainer for the app's lifespan), :class:`SpoolGate`
(spool or Kafka, per envelope) and :class:`SpoolRefused` (answer 503). Inside:

=================  ===========================================================
``journal``        :class:`Spool`, the write-ahead log: segments, checkpoint, lock
``frame``          the checksummed frame format of one record
``recovery``       reopening after a crash: torn tails and damage to ``quarantine/``
``asyncspool``     :class:`AsyncSpool`, the journal's blocking I/O in a worker thread
``drainer``        :class:`SpoolDrainer`, republishing in order with backoff
``gate``           :class:`SpoolGate` and :func:`spooling`
``inspection``     ``registry-bridge spool-inspect``
=================  ===========================================================

Rules and failure handling: ``docs/reliability.md``.
"""

from bridge.spool.gate import SpoolGate, SpoolRefused, spooling
from bridge.spool.inspection import main as inspect_paths
from bridge.spool.journal import Spool, SpoolBusy, SpoolError, SpoolFull, SpoolSettings

__all__ = [
    "Spool",
    "SpoolBusy",
    "SpoolError",
    "SpoolFull",
    "SpoolGate",
    "SpoolRefused",
    "SpoolSettings",
    "inspect_paths",
    "spooling",
]
