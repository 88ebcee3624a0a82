"""Which events a subscription wants: pure functions of the event and the subscription."""

from __future__ import annotations

from fnmatch import fnmatchcase

from common.contract import Event, made_by_reconcile
from consumers.handlers.base import Delivery
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


def from_reconcile(delivery: Delivery) -> bool:
    """A reconcile observation, or the registry's event about one of the reconcile's own
    requests (its HEADs and GETs show as pulls)."""
    return delivery.is_observation or made_by_reconcile(delivery.event)


def wanted_delivery(subscription: Subscription, delivery: Delivery) -> bool:
    """:func:`wanted`, and what the reconcile caused only for subscriptions that ask for it."""
    if from_reconcile(delivery) and not subscription.include_reconcile:
        return False
    return wanted(subscription, delivery.event)
