"""Errors of the relay::

    RelayError
    ├── DeliveryFailed    the subscription's URL did not take an event, for good
    └── DeliveryStopped   the relay is stopping while an event waits for a retry

``YamlFieldError`` (a ``ConfigError``, in :mod:`consumers.relay.yamlnodes`) covers the
subscription file. An undecodable record raises the contract's ``InvalidEvent``.
"""

from __future__ import annotations

from consumers.errors import Interrupted


class RelayError(Exception):
    """Base of the relay's own errors."""


class DeliveryFailed(RelayError):
    """Given up: the retry policy ran out, or the answer was a permanent failure.
    Its message is the last attempt's error, e.g. ``HTTP 503: busy`` or ``ConnectError: ...``."""

    def __init__(self, message: str, *, attempts: int, status: int | None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.status = status


class DeliveryStopped(RelayError, Interrupted):
    """The relay is stopping; the event was not delivered and will be read again. It is an
    ``Interrupted``, so the consumers runner commits nothing of the batch."""
