"""Lifecycle: facts per tag and manifest, storage, the retention policy and its cleanup
(``docs/lifecycle.md``)."""

from consumers.lifecycle.model import ManifestFacts, PullCounts, TagFacts

__all__ = ["ManifestFacts", "PullCounts", "TagFacts"]
