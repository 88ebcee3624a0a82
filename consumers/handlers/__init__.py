"""The handlers, by name. A new handler is one module in this package plus one line here;
``registry-consumer run <name>`` then reads ``<prefix>.<name>`` with group
``<prefix>.<name>``. The interface is documented in :mod:`consumers.handlers.base`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consumers.handlers.base import Handler
from consumers.handlers.other import OtherHandler
from consumers.handlers.pull import PullHandler
from consumers.handlers.push import PushHandler

HANDLERS: dict[str, Callable[[], Handler[Any]]] = {
    "push": PushHandler,
    "pull": PullHandler,
    "other": OtherHandler,
}
