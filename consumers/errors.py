"""Errors of the consumer processes, and how the runner classifies any exception::

    ConsumerError
    ├── Interrupted     a stop was requested while retrying; nothing is committed
    └── StartupFailed   the process cannot start (its metrics port is taken): one line saying
        │               what to fix, exit 1 (a ``common.cli.StartupError``)
        └── StoreError  the store cannot be opened or migrated at start-up

Everything else raised while storing a batch is classified by :func:`is_transient`:

* transient (retried with backoff, the position is kept): the database is down,
  locked or read-only, a connection dropped or was refused (a role, a password or a
  database that is not there: never a reason to dead-letter a record), the broker blinked
  (a retriable ``KafkaError``), a timeout;
* permanent (anything else): the batch is split and the record that still fails after
  ``REGBRIDGE_CONSUMER_MAX_ATTEMPTS`` goes to the dead-letter topic. A record that cannot
  be decoded, or that the handler's ``plan`` rejects, is dead-lettered at once.
"""

from __future__ import annotations

from aiokafka.errors import KafkaConnectionError, KafkaError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from common.cli import StartupError

# SQLSTATEs of a connection the server refused or lost: classes 08 (connection exception)
# and 28 (invalid authorization), no such database, no slot left, shutting down or starting.
_CONNECTION_STATES = ("08", "28", "3D000", "53300", "57P01", "57P02", "57P03")


class ConsumerError(Exception):
    """Base of this package's own errors."""


class Interrupted(ConsumerError):
    """A stop was requested while a batch was being retried; it will be redelivered."""


class StartupFailed(ConsumerError, StartupError):
    """The process cannot start for a reason outside it; the message says what to fix."""


class StoreError(StartupFailed):
    """The store cannot be reached or migrated at start-up; the message says what to fix."""


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated) or _connection_refused(exc)
    if isinstance(exc, KafkaConnectionError):
        return True
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False))
    return isinstance(exc, OSError | TimeoutError | ConnectionError)


def _connection_refused(exc: DBAPIError) -> bool:
    state = getattr(exc.orig, "sqlstate", None)
    return isinstance(state, str) and state.startswith(_CONNECTION_STATES)
