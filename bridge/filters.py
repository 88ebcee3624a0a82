"""Which events the bridge deliberately drops (answered 200, counted, never published).

Media types, actions and repository globs are matched on the normalised event, so the
3.x empty values (``"mediaType": ""``) read as absent and never match a filter.
This works on 2.x too, where the registry's own ``ignore.actions`` is broken.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from common.contract import Event


@dataclass(frozen=True, slots=True)
class EventFilter:
    """``reason_to_drop(event)`` names the rule that drops it, or None to keep it.

    Repository globs use ``fnmatch`` (``team/*``, ``*/cache``); with include globs set,
    only matching repositories are kept, and exclude globs win over include globs.
    """

    ignore_media_types: frozenset[str] = frozenset()
    ignore_actions: frozenset[str] = frozenset()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        media_types: Iterable[str] = (),
        actions: Iterable[str] = (),
        include: Iterable[str] = (),
        exclude: Iterable[str] = (),
    ) -> EventFilter:
        return cls(frozenset(media_types), frozenset(actions), tuple(include), tuple(exclude))

    @property
    def empty(self) -> bool:
        return not (self.ignore_media_types or self.ignore_actions or self.include or self.exclude)

    def reason_to_drop(self, event: Event) -> str | None:
        if event.action in self.ignore_actions:
            return "action"
        if event.media_type is not None and event.media_type in self.ignore_media_types:
            return "media_type"
        if any(fnmatchcase(event.repository, glob) for glob in self.exclude):
            return "repository_excluded"
        if self.include and not any(fnmatchcase(event.repository, glob) for glob in self.include):
            return "repository_not_included"
        return None
