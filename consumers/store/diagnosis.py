"""What a failure to reach or open the store means, in one line that says what to fix.

:func:`diagnose` reads an exception raised while connecting or migrating (SQLAlchemy's, the
driver's underneath, or the socket's) and returns a sentence naming the host, the role, the
database or the file, and the fix; None when the exception is not about reaching the store
(a bug, or a lock another writer holds for a moment). PostgreSQL errors are told apart by
their SQLSTATE (``28000`` no such role or refused by ``pg_hba.conf``, ``28P01`` a wrong
password, ``3D000`` no such database, ``42501`` no right to create the tables, ``57P03``
starting up, ``53300`` no connection slot left); SQLite ones by the message and a look at
the file's directory. The password is never part of the line.
"""

from __future__ import annotations

import getpass
import os
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

URL_VARIABLE = "REGBRIDGE_DATABASE_URL"


def diagnose(exc: BaseException, database_url: str) -> str | None:
    """One line saying what is wrong with the store at ``database_url`` and what to fix."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return None
    if url.get_backend_name() == "sqlite":
        return _sqlite(exc, url)
    return _postgres(exc, url)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what SQLAlchemy wraps (``orig``), and its causes; each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None, current.__cause__, current.__context__]


def _sqlstate(exc: BaseException) -> tuple[str, str] | None:
    for error in _chain(exc):
        code = getattr(error, "sqlstate", None)
        if isinstance(code, str) and code:
            message = str(error.args[0]) if error.args else str(error)
            return code, message.splitlines()[0] if message else code
    return None


class _Postgres:
    def __init__(self, url: URL) -> None:
        self.host = url.host or "localhost"
        self.port = url.port or 5432
        self.user = url.username or getpass.getuser()
        self.database = url.database or self.user

    @property
    def where(self) -> str:
        return f"PostgreSQL at {self.host}:{self.port}"


def _postgres(exc: BaseException, url: URL) -> str | None:
    pg = _Postgres(url)
    state = _sqlstate(exc)
    if state is not None:
        return _refused(pg, *state)
    for error in _chain(exc):
        if isinstance(error, socket.gaierror):
            return f"the database host {pg.host!r} is unknown ({error.strerror}): fix it in {URL_VARIABLE}"
        if isinstance(error, ConnectionRefusedError):
            return (
                f"nothing accepts connections at {pg.host}:{pg.port} (connection refused): start PostgreSQL "
                f"there, or fix the host and port in {URL_VARIABLE}"
            )
        if isinstance(error, TimeoutError):
            return f"{pg.where} did not answer in time: check the host, the port and any firewall in between"
        if isinstance(error, OSError):
            reason = error.strerror or error
            return f"cannot reach {pg.where} ({reason}): check the host and port in {URL_VARIABLE}"
    return None


def _refused(pg: _Postgres, code: str, message: str) -> str | None:
    user, db = pg.user, pg.database
    if code == "28000" and "does not exist" in message:
        return (
            f"{pg.where} has no role {user!r}: create it (CREATE ROLE \"{user}\" LOGIN PASSWORD '...') "
            f"or fix the user name in {URL_VARIABLE}"
        )
    if code == "28P01":
        return (
            f"{pg.where} refused the password of {user!r}: fix the password in {URL_VARIABLE} "
            "(percent-encode characters such as @ : / % in it)"
        )
    if code.startswith("28"):
        return f"{pg.where} refused {user!r} ({message}): allow it in pg_hba.conf, or fix {URL_VARIABLE}"
    if code == "3D000":
        return (
            f"{pg.where} has no database {db!r}: create it (createdb -O {user} {db}) "
            f"or fix the database name in {URL_VARIABLE}"
        )
    if code == "42501":
        return (
            f"{pg.where}: {user!r} may not create the store's tables in {db!r} ({message}): make it the "
            f"database's owner (ALTER DATABASE {db} OWNER TO {user}), or run registry-consumer db upgrade "
            "once as the owner"
        )
    if code == "57P03":
        return f"{pg.where} does not accept connections yet ({message}): it is starting up or shutting down"
    if code == "53300":
        return (
            f"{pg.where} has no connection slot left ({message}): raise max_connections or run fewer clients"
        )
    if code.startswith("08"):
        return f"{pg.where}: the connection failed ({message})"
    return None


_SQLITE_PROBLEMS = {
    "attempt to write a readonly database": "it is read-only for this user: fix the permissions of the file "
    "and of its directory (SQLite writes -wal and -shm files beside it)",
    "disk i/o error": "a disk I/O error: check the disk",
    "database or disk is full": "the disk is full",
    "file is not a database": f"the file is not an SQLite database: point {URL_VARIABLE} at the store's file",
}


def _sqlite(exc: BaseException, url: URL) -> str | None:
    path = Path(url.database or "").expanduser()
    for error in _chain(exc):
        if isinstance(error, sqlite3.Error):
            text = str(error).lower()
            if "unable to open database file" in text:
                return f"cannot open the SQLite store {path}: {_why_not(path)}"
            for known, problem in _SQLITE_PROBLEMS.items():
                if known in text:
                    return f"the SQLite store {path}: {problem}"
            return None
        if isinstance(error, OSError) and not isinstance(error, TimeoutError):
            return f"cannot open the SQLite store {path}: {error.strerror or error}"
    return None


def _why_not(path: Path) -> str:
    """Why SQLite could not create or open ``path``, as far as one can tell from outside."""
    fix = f"fix the path in {URL_VARIABLE}"
    parent = path.absolute().parent
    for ancestor in [parent, *parent.parents]:
        if ancestor.exists():
            if not ancestor.is_dir():
                return f"{ancestor} is a file, not a directory: {fix}"
            if ancestor != parent:
                return f"its directory {parent} does not exist and cannot be created in {ancestor}: {fix}"
            break
    if path.is_dir():
        return f"it is a directory: {fix}"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"its directory {parent} is not writable for this user: {fix}, or the directory's permissions"
    return f"SQLite cannot create a file in {parent} (a read-only or special file system?): {fix}"
