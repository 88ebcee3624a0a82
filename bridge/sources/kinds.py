"""Every kind of sender, by the name in ``/sources/<kind>/events``: the explicit list."""

from __future__ import annotations

from collections.abc import Mapping

from bridge.sources import acr, artifactory, dockerhub, ecr, gar, ghcr, harbor, nexus, quay, zot
from bridge.sources.model import Source

KINDS: Mapping[str, Source] = {
    "harbor": harbor.SOURCE,
    "zot": zot.SOURCE,
    "quay": quay.SOURCE,
    "ghcr": ghcr.SOURCE,
    "dockerhub": dockerhub.SOURCE,
    "artifactory": artifactory.SOURCE,
    "nexus": nexus.SOURCE,
    "acr": acr.SOURCE,
    "ecr": ecr.SOURCE,
    "gar": gar.SOURCE,
}
