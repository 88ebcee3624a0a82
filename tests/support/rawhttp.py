"""HTTP/1.1 by hand over a real socket, for hostile-input tests: any header bytes, bodies
sent slowly, connections left open. No client library gets in the way."""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RawAnswer:
    status: int | None  # None: the server closed without an answer
    head: bytes
    body: bytes
    closed: bool | None  # the server closed the connection after answering (None: not checked)


def request_head(token: str | None, headers: list[tuple[bytes, bytes]], path: bytes = b"/events") -> bytes:
    lines = [b"POST " + path + b" HTTP/1.1", b"Host: 127.0.0.1"]
    if token is not None:
        lines.append(b"Authorization: Bearer " + token.encode())
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def read_answer(sock: socket.socket, within: float, check_close: bool = False) -> RawAnswer:
    """Read one answer (by Content-Length); with ``check_close``, wait up to 2 s to see
    whether the server then closes the connection."""
    sock.settimeout(within)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return RawAnswer(None, data, b"", True)
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = _content_length(head)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    except (TimeoutError, ConnectionError):
        return RawAnswer(None, data, b"", True)
    return RawAnswer(int(head.split(b" ", 2)[1]), head, body, _closes(sock) if check_close else None)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _closes(sock: socket.socket, within: float = 2.0) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


def exchange(port: int, raw: bytes, within: float = 10.0) -> RawAnswer:
    """Send ``raw`` at once and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=within) as sock:
        with contextlib.suppress(ConnectionError):  # the server may answer and close first
            sock.sendall(raw)
        return read_answer(sock, within)


def trickle(port: int, head: bytes, body: bytes, every: float, within: float) -> tuple[RawAnswer, float]:
    """Send the head, then the body one byte every ``every`` seconds until the server
    answers; returns the answer and the seconds it took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=within) as sock:
        sock.sendall(head)
        sock.settimeout(every)
        for byte in body:
            try:
                sock.sendall(bytes([byte]))
                if sock.recv(1, socket.MSG_PEEK):
                    break  # the answer started
            except TimeoutError:
                continue
            except ConnectionError:
                break
            if time.monotonic() - started > within:
                break
        return read_answer(sock, within, check_close=True), time.monotonic() - started
