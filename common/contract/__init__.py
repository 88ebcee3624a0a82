"""The wire contract: what the bridge writes to Kafka and what every consumer reads.

It holds the event model, topic routing, and record encoding and decoding. It imports
only the standard library and orjson, so consumers load it without Starlette or
uvicorn (``tests/test_layering.py`` guards that).

Errors (all subclass :class:`ContractError`, a ``ValueError``)::

    ContractError
    ├── InvalidEnvelope   the body is not a JSON object with an ``events`` list
    └── InvalidEvent      one event lacks ``id``, ``action`` or ``target.repository``

Record layout (see ``docs/events.md``):

* topic: ``<prefix>.push``, ``<prefix>.pull`` or ``<prefix>.other`` (configurable map)
* key: ``target.repository``, UTF-8
* value: the event object as the registry sent it, compact JSON, unknown fields kept
* headers: ``event-id``, ``action``, ``repository``, ``content-type`` and the
  CloudEvents Kafka binary-mode headers ``ce_specversion``, ``ce_id``, ``ce_source``,
  ``ce_type``, ``ce_time``, ``ce_subject``; from another registry also ``source-kind``
  and ``ce_sourcetype`` (see :mod:`common.contract.sources`).

The reconcile's observations (``<prefix>.reconcile``, header ``regbridge-origin:
reconcile``) use the same layout; :mod:`common.contract.observation` describes them.
"""

from common.contract.event import (
    BLOB_MEDIA_TYPE,
    DEFAULT_MAX_EVENTS,
    ENCODABLE_DEPTH,
    KNOWN_ACTIONS,
    MANIFEST_HINTS,
    ContractError,
    Event,
    InvalidEnvelope,
    InvalidEvent,
    parse_envelope,
)
from common.contract.observation import (
    CLEANUP_USER_AGENT,
    OBSERVATION_ACTION,
    ORIGIN_HEADER,
    RECONCILE_ORIGIN,
    RECONCILE_USER_AGENT,
    SUBJECTS,
    Observation,
    encode_observation,
    made_by_cleanup,
    made_by_reconcile,
)
from common.contract.records import (
    CE_SOURCE_FALLBACK,
    CE_SOURCE_KIND_PREFIX,
    CE_SPECVERSION,
    CE_TYPE_PREFIX,
    CONTENT_TYPE,
    MAX_RECORD_BYTES,
    Headers,
    OutgoingRecord,
    ce_source_for,
    ce_type_for,
    decode_event,
    encode_event,
    encode_quarantine,
    event_headers,
    header_value,
)
from common.contract.routing import (
    DEFAULT_PREFIX,
    DEFAULT_ROUTES,
    DLQ_SUFFIX,
    INVALID_SUFFIX,
    OTHER,
    RECONCILE_SUFFIX,
    TOPIC_HANDLERS,
    TopicRouter,
)
from common.contract.sources import DISTRIBUTION, FIELDS, SOURCE_KINDS, SOURCES, SourceFacts

__all__ = [
    "BLOB_MEDIA_TYPE",
    "CE_SOURCE_FALLBACK",
    "CE_SOURCE_KIND_PREFIX",
    "CE_SPECVERSION",
    "CE_TYPE_PREFIX",
    "CLEANUP_USER_AGENT",
    "CONTENT_TYPE",
    "DEFAULT_MAX_EVENTS",
    "DEFAULT_PREFIX",
    "DEFAULT_ROUTES",
    "DISTRIBUTION",
    "DLQ_SUFFIX",
    "ENCODABLE_DEPTH",
    "FIELDS",
    "INVALID_SUFFIX",
    "KNOWN_ACTIONS",
    "MANIFEST_HINTS",
    "MAX_RECORD_BYTES",
    "OBSERVATION_ACTION",
    "ORIGIN_HEADER",
    "OTHER",
    "RECONCILE_ORIGIN",
    "RECONCILE_SUFFIX",
    "RECONCILE_USER_AGENT",
    "SOURCES",
    "SOURCE_KINDS",
    "SUBJECTS",
    "TOPIC_HANDLERS",
    "ContractError",
    "Event",
    "Headers",
    "InvalidEnvelope",
    "InvalidEvent",
    "Observation",
    "OutgoingRecord",
    "SourceFacts",
    "TopicRouter",
    "ce_source_for",
    "ce_type_for",
    "decode_event",
    "encode_event",
    "encode_observation",
    "encode_quarantine",
    "event_headers",
    "header_value",
    "made_by_cleanup",
    "made_by_reconcile",
    "parse_envelope",
]
