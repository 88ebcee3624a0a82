"""Errors of the consumer processes, and how the runner classifies any exception::

    ConsumerError
    ├── Interrupted     a stop was requested while retrying; nothing is committed
    ├── StartupFailed   a resource the process needs cannot be had (its metrics port is
    │                   taken): one error line, exit 1
    └── StoreError      the store cannot be opened or migrated (exit at start-up)

Everything else raised while storing a batch is classified by :func:`is_transient`:

* transient (retried with backoff, the position is kept): the database is down,
  locked or read-only, a connection dropped, the broker blinked (a retriable
  ``KafkaError``), a timeout;
* permanent (anything else): the batch is split and the record that still fails after
  ``REGBRIDGE_CONSUMER_MAX_ATTEMPTS`` goes to the dead-letter topic. A record that cannot
  be decoded, or that the handler's ``plan`` rejects, is dead-lettered at once.
"""

from __future__ import annotations

from aiokafka.errors import KafkaConnectionError, KafkaError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError


class ConsumerError(Exception):
    """Base of this package's own errors."""


class Interrupted(ConsumerError):
    """A stop was requested while a batch was being retried; it will be redelivered."""


class StartupFailed(ConsumerError):
    """The process cannot start: the message says what to fix."""


class StoreError(ConsumerError):
    """The store cannot be reached or migrated at start-up."""


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated)
    if isinstance(exc, KafkaConnectionError):
        return True
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False))
    return isinstance(exc, OSError | TimeoutError | ConnectionError)
