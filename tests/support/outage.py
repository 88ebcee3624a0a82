"""Taking the store away from a consumer and giving it back, inside a test.

* SQLite: another connection holds the write lock (``BEGIN EXCLUSIVE``), so the
  consumer's writes fail with "database is locked" after the busy timeout.
* PostgreSQL: the consumer reaches the server through :class:`TcpProxy`; stopping the
  proxy closes the listening socket and cuts every open connection, as a server crash
  or a network partition would; starting it again listens on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from typing import Protocol

from sqlalchemy.engine import make_url


class Outage(Protocol):
    url: str  # what the consumer uses

    async def begin(self) -> None: ...

    async def end(self) -> None: ...


class SqliteWriteLock:
    def __init__(self, url: str) -> None:
        self.url = url
        self._path = make_url(url).database or ""
        self._connection: sqlite3.Connection | None = None

    def _lock(self) -> None:
        connection = sqlite3.connect(self._path, timeout=30, isolation_level=None, check_same_thread=False)
        connection.execute("BEGIN EXCLUSIVE")
        self._connection = connection

    async def begin(self) -> None:
        await asyncio.to_thread(self._lock)

    async def end(self) -> None:
        if self._connection is not None:
            self._connection.execute("ROLLBACK")
            self._connection.close()
            self._connection = None


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``; ``end()``/``begin()`` cut and restore."""

    def __init__(self, url: str) -> None:
        target = make_url(url)
        self._target = (target.host or "127.0.0.1", target.port or 5432)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.url = ""
        self._database_url = target

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        url = self._database_url.set(host="127.0.0.1", port=self.port)
        self.url = url.render_as_string(hide_password=False)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def begin(self) -> None:
        await self.stop()

    async def end(self) -> None:
        await self.start()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self._target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update((client_writer, server_writer))
        await asyncio.gather(
            self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer)
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()
