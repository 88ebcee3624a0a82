"""The handlers, by name. A new handler is one module in this package plus one line here;
``registry-consumer run <name>`` then reads ``<prefix>.<name>`` with group
``<prefix>.<name>``. The interface is documented in :mod:`consumers.handlers.base`. Each
entry is built with the process's :class:`~consumers.handlers.base.HandlerOptions`.

The handlers in :data:`OBSERVERS` also read ``<prefix>.reconcile``: ``push`` applies what the
reconcile saw present, ``other`` what it saw absent (:mod:`consumers.handlers.observed`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consumers.handlers.base import Handler, HandlerOptions
from consumers.handlers.other import OtherHandler
from consumers.handlers.pull import PullHandler
from consumers.handlers.push import PushHandler

OBSERVERS = ("push", "other")
HANDLERS: dict[str, Callable[[HandlerOptions], Handler[Any]]] = {
    "push": PushHandler,
    "pull": PullHandler,
    "other": OtherHandler,
}
