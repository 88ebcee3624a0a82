"""Comparing what the registry showed of a repository with what the store holds: pure.

:class:`RepositoryScan` is what a scan saw (:mod:`consumers.reconcile.scan`), every fact
with the moment its request started. :func:`observations_for` turns it into the
observations that would repair the store (:func:`consumers.handlers.observed.repair_for`
decides, as the consumers will), and :func:`absence_observations` does the same for a
repository the catalog no longer lists.

Each observation is dated ``settle`` seconds before its request started: the registry
notifies a tagged push before it writes the tag (distribution#2625), so an answer may
not show a push whose event is already stamped; dating back makes such an event win.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from common.contract import Observation
from consumers.handlers.observed import key_of, repair_for
from consumers.reconcile.store_view import RepositoryState

_NAMESPACE = uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")


@dataclass(frozen=True, slots=True)
class SeenManifest:
    digest: str
    media_type: str | None
    size: int | None
    at: datetime
    method: str = "GET"


@dataclass(frozen=True, slots=True)
class SeenTag:
    tag: str
    manifest: SeenManifest


@dataclass(slots=True)
class RepositoryScan:
    """What the registry showed of one repository during a pass."""

    name: str
    listed_at: datetime
    listed: set[str] = field(default_factory=set)  # every tag the list named
    tags: list[SeenTag] = field(default_factory=list)  # those whose manifest was read and checked
    manifests: dict[str, SeenManifest] = field(default_factory=dict)  # reachable: tagged, and children
    gone: dict[str, datetime] = field(default_factory=dict)  # store manifests the registry answered 404 for


@dataclass(frozen=True, slots=True)
class Observations:
    """Makes the observations of one pass: ids derived from the pass and what is observed
    (a retried publish sends the same id), dated back by ``settle``."""

    pass_id: str
    source: str
    settle: timedelta

    def make(
        self,
        subject: str,
        present: bool,
        repository: str,
        at: datetime,
        *,
        tag: str | None = None,
        manifest: SeenManifest | None = None,
        digest: str | None = None,
    ) -> Observation:
        digest = manifest.digest if manifest else digest
        key = f"{self.pass_id}|{subject}|{present}|{repository}|{tag or ''}|{digest or ''}"
        stamp = (at - self.settle).isoformat(timespec="microseconds") + "Z"
        return Observation(
            id=str(uuid.uuid5(_NAMESPACE, key)),
            subject=subject,
            present=present,
            repository=repository,
            timestamp=stamp,
            pass_id=self.pass_id,
            source=self.source,
            tag=tag,
            digest=digest,
            media_type=manifest.media_type if manifest else None,
            size=manifest.size if manifest else None,
            method=manifest.method if manifest else None,
        )

    def dated(self, observation: Observation) -> datetime:
        return datetime.fromisoformat(observation.timestamp.removesuffix("Z"))


def _needed(
    observations: Iterable[Observation], state: RepositoryState, maker: Observations
) -> list[Observation]:
    """Those that repair something in ``state`` (repositories, then manifests, then tags)."""
    order = {"repository": 0, "manifest": 1, "tag": 2}
    kept = []
    for observation in sorted(observations, key=lambda o: order[o.subject]):
        table, _, second = key_of(observation)
        row = state.row if table == "repositories" else getattr(state, table).get(second)
        if repair_for(observation, maker.dated(observation), row) is not None:
            kept.append(observation)
    return kept


def observations_for(scan: RepositoryScan, state: RepositoryState, maker: Observations) -> list[Observation]:
    """The observations that would repair the store's view of a listed repository."""
    name = scan.name
    found = [maker.make("repository", True, name, scan.listed_at)]
    found += [
        maker.make("tag", True, name, seen.manifest.at, tag=seen.tag, manifest=seen.manifest)
        for seen in scan.tags
    ]
    found += [
        maker.make("tag", False, name, scan.listed_at, tag=tag)
        for tag in state.live_tags
        if tag not in scan.listed
    ]
    found += [maker.make("manifest", True, name, seen.at, manifest=seen) for seen in scan.manifests.values()]
    found += [maker.make("manifest", False, name, at, digest=digest) for digest, at in scan.gone.items()]
    return _needed(found, state, maker)


def absence_observations(state: RepositoryState, at: datetime, maker: Observations) -> list[Observation]:
    """A repository the catalog does not list: its live tags and manifests, then itself."""
    name = state.name
    found = [maker.make("tag", False, name, at, tag=tag) for tag in state.live_tags]
    found += [maker.make("manifest", False, name, at, digest=digest) for digest in state.live_manifests]
    found.append(maker.make("repository", False, name, at))
    ordered = _needed(found, state, maker)
    return [o for o in ordered if o.subject != "repository"] + [
        o for o in ordered if o.subject == "repository"
    ]
