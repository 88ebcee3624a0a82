"""The reconcile: the registry's own API as the source of truth for the store.

A pass reads the catalog and every tag (``consumers.registry_api``), compares them with the
store, and publishes what differs as observations on ``<prefix>.reconcile``; the ``push``
and ``other`` consumers apply them (``consumers.handlers.observed``) unless a newer real
event got there first. It runs once (``registry-consumer reconcile --once``) or for good
(``registry-consumer run reconcile``: at start, every interval, and at once after a
registry restart). ``docs/reconcile.md`` is the operator's guide.

=================  ===============================================================
``command``        the CLI: ``--once`` and its JSON line, exit codes
``process``        :class:`ReconcileProcess`: schedule, restarts, metrics, /healthz
``passes``         :class:`ReconcilePass`: catalog, pages, repositories, failures
``scan``           :class:`Scanner`: one repository's tags and manifests
``compare``        what differs, as observations (pure)
``outbox``         settle, check again, publish
``publisher``      :class:`ObservationPublisher`: Kafka, waiting while it is away
``store_view``     what the reconcile reads from (and writes to) the store
``watch``          :class:`RestartWatcher`: new registry instance ids
``settings``, ``summary``, ``metrics``, ``progress``
=================  ===============================================================
"""

from consumers.reconcile.command import reconcile
from consumers.reconcile.passes import ReconcilePass
from consumers.reconcile.process import ReconcileProcess, run_reconcile
from consumers.reconcile.settings import ReconcileSettings, load
from consumers.reconcile.summary import PassSummary

__all__ = [
    "PassSummary",
    "ReconcilePass",
    "ReconcileProcess",
    "ReconcileSettings",
    "load",
    "reconcile",
    "run_reconcile",
]
