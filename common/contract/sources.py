"""Which registry an event came from, and what each kind of sender can report.

Records from ``POST /events`` (CNCF distribution and GitLab's fork) carry no
``source.kind``: their kind is :data:`DISTRIBUTION`. Records the bridge made from another
registry's webhook (``POST /sources/<kind>/events``) name it in ``source.kind`` and in the
``source-kind`` header. :data:`SOURCES` states plainly, per kind, which actions and which
event fields its records can carry; ``docs/sources.md`` says the same for operators.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DISTRIBUTION = "distribution"
FIELDS = ("digest", "tag", "media_type", "size", "actor", "timestamp", "id")
"""Event fields a sender may or may not give. ``timestamp`` and ``id`` are the sender's
own: where it has none the bridge stamps the receive time and synthesises a stable id."""


@dataclass(frozen=True, slots=True)
class SourceFacts:
    """What the records of one kind of sender can carry."""

    kind: str
    name: str
    actions: tuple[str, ...]
    """The image actions it reports (``push``, ``pull``, ``delete``, ``mount``)."""
    fields: tuple[str, ...]
    """Which of :data:`FIELDS` its events carry (in at least one of its formats)."""
    artifact_deletes: bool = False
    """A delete naming a tag and a digest removes the whole artifact (the manifest and every
    tag on it), not only that tag."""
    registry_api: bool = False
    """It serves the distribution ``/v2/`` API, so reconcile can read its catalog."""

    @property
    def pulls(self) -> bool:
        return "pull" in self.actions


def _facts(kind: str, name: str, actions: str, fields: str, **flags: bool) -> SourceFacts:
    return SourceFacts(kind, name, tuple(actions.split()), tuple(fields.split()), **flags)


SOURCES: Mapping[str, SourceFacts] = {
    fact.kind: fact
    for fact in (
        _facts(
            DISTRIBUTION,
            "CNCF distribution / GitLab",
            "push pull delete mount",
            "digest tag media_type size actor timestamp id",
            registry_api=True,
        ),
        _facts(
            "harbor",
            "Harbor",
            "push pull delete",
            "digest tag actor timestamp id",
            artifact_deletes=True,
            registry_api=True,
        ),
        _facts("zot", "zot", "push delete", "digest tag media_type actor timestamp id", registry_api=True),
        _facts("quay", "Quay", "push", "tag"),
        _facts("ghcr", "GitHub Container Registry", "push", "digest tag media_type size actor timestamp id"),
        _facts("dockerhub", "Docker Hub", "push", "tag actor timestamp"),
        _facts("artifactory", "JFrog Artifactory", "push delete", "digest tag size"),
        _facts("nexus", "Sonatype Nexus Repository 3", "push delete", "tag actor timestamp id"),
        _facts("acr", "Azure Container Registry", "push delete", "digest tag media_type size timestamp id"),
        _facts("ecr", "Amazon ECR", "push delete", "digest tag media_type timestamp id"),
        _facts("gar", "Google Artifact Registry", "push delete", "digest tag timestamp id"),
    )
}
"""Every kind, distribution first."""

SOURCE_KINDS = tuple(kind for kind in SOURCES if kind != DISTRIBUTION)
"""The kinds ``POST /sources/<kind>/events`` accepts."""
