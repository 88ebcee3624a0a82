"""Lifecycle: facts per tag and manifest, storage, the retention policy and its cleanup
(``docs/lifecycle.md``)."""

from consumers.lifecycle.contents import Contents, load_contents
from consumers.lifecycle.facts import manifest_facts, stale_manifests, tag_facts
from consumers.lifecycle.model import ManifestFacts, PullCounts, TagFacts
from consumers.lifecycle.storage import (
    BlobGraph,
    RepositorySnapshot,
    RepositoryStorage,
    StorageOverview,
    StoragePoint,
    repository_storage,
    storage_overview,
    write_snapshot,
)

__all__ = [
    "BlobGraph",
    "Contents",
    "ManifestFacts",
    "PullCounts",
    "RepositorySnapshot",
    "RepositoryStorage",
    "StorageOverview",
    "StoragePoint",
    "TagFacts",
    "load_contents",
    "manifest_facts",
    "repository_storage",
    "stale_manifests",
    "storage_overview",
    "tag_facts",
    "write_snapshot",
]
