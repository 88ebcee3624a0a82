"""The body a subscription receives for one event, in the format it chose.

* ``registry``: the notification envelope the registry itself sends, ``{"events": [<event>]}``,
  with the event exactly as it came (unknown fields kept) and the registry's content type, so a
  receiver written for registry notifications works unchanged.
* ``cloudevent``: a structured-mode CloudEvents 1.0 JSON object (``application/cloudevents+json``)
  whose ``data`` is the event object; ``id``, ``source``, ``type`` and ``subject`` are the same
  values the bridge puts in the ``ce_*`` record headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from common.contract import CE_SPECVERSION, Event, ce_source_for, ce_type_for
from consumers.relay.config import PayloadFormat

REGISTRY_CONTENT_TYPE = "application/vnd.docker.distribution.events.v1+json"
CLOUDEVENT_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Payload:
    body: bytes
    content_type: str


def cloudevent(event: Event) -> dict[str, Any]:
    """The structured CloudEvent for one registry event."""
    document: dict[str, Any] = {
        "specversion": CE_SPECVERSION,
        "id": event.id,
        "source": ce_source_for(event),
        "type": ce_type_for(event.action),
        "subject": event.subject,
        "datacontenttype": "application/json",
        "data": dict(event.raw),
    }
    if event.timestamp:
        document["time"] = event.timestamp
    return document


def render(payload_format: PayloadFormat, event: Event) -> Payload:
    if payload_format is PayloadFormat.CLOUDEVENT:
        return Payload(orjson.dumps(cloudevent(event)), CLOUDEVENT_CONTENT_TYPE)
    return Payload(orjson.dumps({"events": [event.raw]}), REGISTRY_CONTENT_TYPE)
