"""Other registries' webhooks, on the same bridge: ``POST /sources/<kind>/events``.

One module per kind of sender (``harbor``, ``zot``, ``quay``, ``ghcr``, ``dockerhub``,
``artifactory``, ``nexus``, ``acr``, ``ecr``, ``gar``), each a normaliser (request headers
and exact body → distribution-shaped events, or why not) plus its authentication check;
:data:`~bridge.sources.kinds.KINDS` lists them. The endpoint hands the events to the
bridge's :class:`~bridge.receiver.Receiver`, so filters, dedupe, the publish budget, the
spool and quarantine work as on ``POST /events``. ``docs/sources.md`` is the operator's side.

The public face: :class:`SourceSettings` (read in :mod:`bridge.settings`),
:class:`SourcesState` and :class:`SourceMetrics` (made in the app's lifespan), and
:class:`SourcesEndpoint` with :data:`ROUTES` (listed in :mod:`bridge.app`).
"""

from starlette.routing import Route

from bridge.sources.endpoint import SourcesEndpoint, SourcesState
from bridge.sources.kinds import KINDS
from bridge.sources.metrics import SourceMetrics
from bridge.sources.settings import SourceSettings

_ENDPOINT = SourcesEndpoint()
ROUTES = [
    Route("/sources/{kind}/events", _ENDPOINT, methods=["POST", "OPTIONS"]),
    Route("/sources/{kind}/events/{secret}", _ENDPOINT, methods=["POST", "OPTIONS"]),
]

__all__ = ["KINDS", "ROUTES", "SourceMetrics", "SourceSettings", "SourcesEndpoint", "SourcesState"]
