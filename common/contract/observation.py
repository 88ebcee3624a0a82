"""Reconcile observations: what ``registry-consumer reconcile`` read from the registry's API,
as records on ``<prefix>.reconcile`` in the bridge's record format.

An observation states one fact at one time, as seen through the registry's API:
"at time T, tag x of repository r points at digest d", "at time T, tag x is absent",
"repository r exists", "manifest d of r exists" (or is absent). Its value is an event
object like the registry's (``id``, ``timestamp``, ``action``, ``target``, ``request``,
``source``) with ``action: "reconcile"`` and a ``reconcile`` object::

    {"id": "…", "timestamp": "2026-11-29T02:03:04.303049Z", "action": "reconcile",
     "target": {"repository": "team/a", "tag": "1.0", "digest": "sha256:…",
                "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1234},
     "request": {"id": "<pass id>", "method": "HEAD",
                 "useragent": "registry-kafka-bridge-reconcile/1"},
     "source": {"addr": "registry.example.com:5000"},
     "reconcile": {"subject": "tag", "present": true, "pass": "<pass id>"}}

``timestamp`` is the moment the pass vouches for (its request's start, less the settle
margin): a consumer applies the observation only to a row last changed before it, so a
real event that is newer always wins, and a replay changes nothing. The record carries
the usual headers plus :data:`ORIGIN_HEADER` = ``reconcile``; the bridge never writes
that header, so a registry event cannot pass for an observation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from common.contract.event import Event, InvalidEvent
from common.contract.records import OutgoingRecord, event_headers
from common.contract.routing import TopicRouter

OBSERVATION_ACTION = "reconcile"
ORIGIN_HEADER = "regbridge-origin"
RECONCILE_ORIGIN = "reconcile"
RECONCILE_USER_AGENT = "registry-kafka-bridge-reconcile/1"
"""The ``User-Agent`` of every request the reconcile makes: the registry reports them as pull
events, which the pull consumer leaves out of the statistics (:func:`made_by_reconcile`)."""
CLEANUP_USER_AGENT = "registry-kafka-bridge-cleanup/1"
"""The ``User-Agent`` of ``registry-consumer cleanup apply``: its re-checks (HEADs) are
reported as pulls, left out of the statistics like the reconcile's (:func:`made_by_cleanup`);
its deletes are real and go everywhere a delete goes."""
SUBJECTS = ("repository", "manifest", "tag")


@dataclass(frozen=True, slots=True)
class Observation:
    """One fact read from the registry. ``timestamp`` is RFC 3339 UTC (see the module
    docstring); ``tag`` is set for a tag, ``digest`` for a manifest and a present tag."""

    id: str
    subject: str  # repository, manifest or tag
    present: bool
    repository: str
    timestamp: str
    pass_id: str
    source: str = ""  # the registry's host:port
    tag: str | None = None
    digest: str | None = None
    media_type: str | None = None
    size: int | None = None
    method: str | None = None  # the request that saw it: GET or HEAD

    def __post_init__(self) -> None:
        if self.subject not in SUBJECTS:
            raise InvalidEvent(f"observation subject {self.subject!r} is not one of {', '.join(SUBJECTS)}")
        if self.subject == "tag" and not self.tag:
            raise InvalidEvent("a tag observation names no tag")
        if self.subject == "manifest" and not self.digest:
            raise InvalidEvent("a manifest observation names no digest")
        if self.subject == "tag" and self.present and not self.digest:
            raise InvalidEvent("a present tag observation names no digest")

    def raw(self) -> dict[str, Any]:
        """The event object published as the record's value."""
        target: dict[str, Any] = {"repository": self.repository}
        for key, value in (("tag", self.tag), ("digest", self.digest), ("mediaType", self.media_type)):
            if value:
                target[key] = value
        if self.size is not None:
            target["size"] = self.size
        request: dict[str, Any] = {"id": self.pass_id, "useragent": RECONCILE_USER_AGENT}
        if self.method:
            request["method"] = self.method
        return {
            "id": self.id,
            "timestamp": self.timestamp,
            "action": OBSERVATION_ACTION,
            "target": target,
            "request": request,
            "actor": {},
            "source": {"addr": self.source} if self.source else {},
            "reconcile": {"subject": self.subject, "present": self.present, "pass": self.pass_id},
        }

    def event(self) -> Event:
        return Event.from_raw(self.raw())

    @classmethod
    def from_event(cls, event: Event) -> Observation:
        """The observation an event carries; raises :class:`InvalidEvent` when it is not one."""
        section = event.raw.get("reconcile")
        if event.action != OBSERVATION_ACTION or not isinstance(section, Mapping):
            raise InvalidEvent("the record is not a reconcile observation")
        subject, present = section.get("subject"), section.get("present")
        if not isinstance(subject, str) or not isinstance(present, bool):
            raise InvalidEvent("a reconcile observation needs reconcile.subject and reconcile.present")
        if not event.timestamp:
            raise InvalidEvent("a reconcile observation needs a timestamp")
        pass_id = section.get("pass")
        return cls(
            id=event.id,
            subject=subject,
            present=present,
            repository=event.repository,
            timestamp=event.timestamp,
            pass_id=pass_id if isinstance(pass_id, str) else "",
            source=event.source_addr or "",
            tag=event.tag,
            digest=event.digest,
            media_type=event.media_type,
            size=event.size,
            method=event.method,
        )


def encode_observation(observation: Observation, router: TopicRouter) -> OutgoingRecord:
    """The record for ``<prefix>.reconcile``: keyed by repository (one repository's
    observations stay in order), the bridge's headers plus ``regbridge-origin``."""
    event = observation.event()
    headers = [*event_headers(event), (ORIGIN_HEADER, RECONCILE_ORIGIN.encode())]
    return OutgoingRecord(
        topic=router.reconcile_topic,
        key=observation.repository.encode(),
        value=orjson.dumps(event.raw),
        headers=headers,
    )


def made_by_reconcile(event: Event) -> bool:
    """True for the registry's events about the reconcile's own requests (its HEADs and
    GETs are reported as pulls): they are not load."""
    agent = event.useragent or ""
    return agent.startswith(RECONCILE_USER_AGENT.split("/", 1)[0] + "/")


def made_by_cleanup(event: Event) -> bool:
    """True for the registry's events about ``cleanup apply``'s own requests."""
    agent = event.useragent or ""
    return agent.startswith(CLEANUP_USER_AGENT.split("/", 1)[0] + "/")
