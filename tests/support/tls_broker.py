"""A Kafka-protocol broker that clients reach only over TLS, for the Kafka TLS tests.

The embedded broker (Tansu 0.6.0) does not serve TLS itself: its ``--cert`` and ``--key``
options cannot be given together, and with ``--cert`` alone it still speaks plaintext. So
this puts a TLS terminator in front of a Tansu of its own, the way stunnel or a TLS load
balancer fronts Kafka: Tansu listens on a private port and advertises the terminator's
port, so every connection a client makes (bootstrap and the broker it is sent to) goes
through TLS, with the client certificate checked when ``client_ca`` is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from devstack.broker import broker_binary
from devstack.ports import free_port, port_open


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


class TlsTerminator:
    """Accepts TLS on ``port`` and forwards the plaintext to ``upstream``."""

    def __init__(self, context: ssl.SSLContext, upstream: int) -> None:
        self.context, self.upstream, self.port = context, upstream, free_port()
        self.handshakes = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handshakes += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    def _track(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[TlsTerminator]:
        server = await asyncio.start_server(self._track, "127.0.0.1", self.port, ssl=self.context)
        try:
            yield self
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def _start_tansu(private: int, advertised: int, log_path: Path) -> subprocess.Popen[bytes]:
    command = [broker_binary(), "broker", "--listener-url", f"tcp://127.0.0.1:{private}"]
    command += ["--advertised-listener-url", f"tcp://127.0.0.1:{advertised}"]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 15
    while not port_open("127.0.0.1", private):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            raise AssertionError(f"Tansu did not start on port {private}")
        time.sleep(0.05)
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@asynccontextmanager
async def tls_broker(
    cert: Path, key: Path, log_path: Path, client_ca: Path | None = None
) -> AsyncIterator[TlsTerminator]:
    """A fresh Tansu reachable only at ``127.0.0.1:<terminator.port>`` over TLS."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    private = free_port()
    terminator = TlsTerminator(context, private)
    process = _start_tansu(private, terminator.port, log_path)
    try:
        async with terminator.running():
            yield terminator
    finally:
        _stop(process)
