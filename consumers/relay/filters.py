"""Which events a subscription wants: pure functions of the event and the subscription."""

from __future__ import annotations

from fnmatch import fnmatchcase

from common.contract import Event
from consumers.relay.config import Filters, Subscription


def wants_manifest(event: Event) -> bool:
    """Manifest events, plus tag events: a tag only ever names a manifest (tag deletes carry
    no media type). A delete by digest alone cannot be told from a blob delete, so it fails."""
    return event.is_manifest or event.tag is not None


def passes(filters: Filters, event: Event) -> bool:
    """True when every filter that is set matches the event."""
    if filters.repositories and not any(fnmatchcase(event.repository, g) for g in filters.repositories):
        return False
    if filters.tag is not None and (event.tag is None or filters.tag.search(event.tag) is None):
        return False
    if filters.media_types and event.media_type not in filters.media_types:
        return False
    return not (filters.manifests_only and not wants_manifest(event))


def wanted(subscription: Subscription, event: Event) -> bool:
    """The subscription's action list (empty: all actions) and its filters both accept the event."""
    if subscription.actions and event.action not in subscription.actions:
        return False
    return passes(subscription.filters, event)
