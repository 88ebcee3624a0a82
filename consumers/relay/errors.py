"""Errors of the relay::

    RelayError
    └── DeliveryFailed    the subscription's URL did not take an event, for good

A stop request while an event waits for a retry raises the consumers' ``Interrupted``
(:class:`consumers.runner.StopRequest`), so the batch loop commits nothing of the batch.

``YamlFieldError`` (a ``ConfigError``, in :mod:`consumers.yamlconfig`) covers the
subscription file. An undecodable record raises the contract's ``InvalidEvent``.
"""

from __future__ import annotations


class RelayError(Exception):
    """Base of the relay's own errors."""


class DeliveryFailed(RelayError):
    """Given up: the retry policy ran out, or the answer was a permanent failure.
    Its message is the last attempt's error, e.g. ``HTTP 503: busy`` or ``ConnectError: ...``."""

    def __init__(self, message: str, *, attempts: int, status: int | None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.status = status
