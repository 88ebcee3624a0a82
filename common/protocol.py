"""uvicorn's httptools protocol plus a request-header timeout and, optionally, a cap on the
size of the request head; used by the bridge and the dashboard.

uvicorn times out a connection only while it is idle between two requests
(``timeout_keep_alive``). A client that connects and sends nothing, or sends its headers
a byte at a time, holds a connection (and a file descriptor) for ever. Here a connection
whose request headers are not complete within ``header_timeout`` seconds of the
connection opening, or of the request's first byte, is closed. Bodies have their own
timeouts (the bridge's ``POST /events``, the dashboard's request limits).

uvicorn (and httptools) put no limit on the size of a request line and its headers: a
client can send megabytes of headers, held in memory until they end. With
``max_head_bytes`` set, a request whose line and headers are longer is answered ``431``
and the connection closed, before anything reaches the app. The close lingers (at most
``LINGER_SECONDS``, reading and dropping what still arrives): closing a socket with unread
input makes the kernel send a reset, which can destroy the 431 before the client reads it.
"""

from __future__ import annotations

import asyncio
from asyncio import TimerHandle

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

LINGER_SECONDS = 2.0
TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\ncontent-length: 36\r\nconnection: close\r\n\r\n"
    b"the request's headers are too large\n"
)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """Closes the connection when request headers take longer than ``header_timeout``, and
    answers 431 when they are longer than ``max_head_bytes`` (None: no cap)."""

    header_timeout: float = 10.0
    max_head_bytes: int | None = None
    _header_timer: TimerHandle | None = None
    _head_open: bool = True  # the request line and headers of the next request are being read
    _head_bytes: int = 0
    _refused: bool = False  # answered 431: what still arrives is dropped until the close

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self.max_head_bytes is None or not self._head_open:
            super().data_received(data)
            return
        room = self.max_head_bytes - self._head_bytes
        if len(data) <= room:
            self._head_bytes += len(data)
            super().data_received(data)
            return
        super().data_received(data[:room])  # the head may end within the room left
        self._head_bytes += room
        if self.transport.is_closing():
            return
        if self._head_open:
            self._refuse_head()
            return
        self.data_received(data[room:])

    def _refuse_head(self) -> None:
        """Answer 431, end the writing side, and close once the client has had time to read."""
        self._refused = True
        self._disarm_header_timer()
        self.transport.write(TOO_LARGE)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        self._head_open = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_open, self._head_bytes = True, 0

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def header_timeout_protocol(timeout: float, max_head_bytes: int | None = None) -> type[HeaderTimeoutProtocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` with this timeout and head cap (one
    per server, so nothing is shared between servers)."""
    attributes = {"header_timeout": timeout, "max_head_bytes": max_head_bytes}
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), attributes)
