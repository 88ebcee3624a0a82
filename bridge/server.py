"""Running the app under uvicorn, with the bridge's graceful shutdown.

The first SIGTERM (or SIGINT) only starts the drain (see :mod:`bridge.lifecycle`); the
server stops accepting once nothing is in flight or the grace period is over, then the
lifespan flushes and stops the producer. A second signal forces the exit.
"""

from __future__ import annotations

import gc
import logging
import socket
from types import FrameType

import uvicorn

from bridge.app import create_app
from bridge.lifecycle import Lifecycle
from bridge.settings import BridgeSettings
from common.logs import flush_logs
from common.protocol import header_timeout_protocol

log = logging.getLogger("bridge.server")


class BridgeServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Runs in the signal handler: only set flags (the main loop acts on them).
        if self.lifecycle.draining:
            self.force_exit = True
            self.should_exit = True
            return
        self.lifecycle.begin_drain()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # Everything made so far lives as long as the process: keep it out of the
        # cyclic GC's full collections, which otherwise scan it (tail-latency stalls).
        gc.freeze()

    async def on_tick(self, counter: int) -> bool:
        flush_logs()  # request lines are buffered (see common.logs.BufferedStreamHandler)
        if self.lifecycle.draining and not self.should_exit:
            if counter % 10 == 0 or self.lifecycle.drained:
                log.info(
                    "draining",
                    extra={
                        "fields": {
                            "in_flight": self.lifecycle.in_flight,
                            "left_s": self.lifecycle.remaining(),
                        }
                    },
                )
            if self.lifecycle.drained:
                self.should_exit = True
                self.config.timeout_graceful_shutdown = max(1, int(self.lifecycle.remaining()))
        return await super().on_tick(counter)


def server_config(settings: BridgeSettings, host: str, port: int, lifecycle: Lifecycle) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings, lifecycle),
        host=host,
        port=port,
        lifespan="on",
        http=header_timeout_protocol(settings.header_timeout),
        proxy_headers=False,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=max(1, int(settings.grace_period)),
        **settings.tls.uvicorn_kwargs(),
    )


def run(settings: BridgeSettings, host: str, port: int) -> None:
    """Serve until a signal; returns after the graceful shutdown."""
    lifecycle = Lifecycle(settings.grace_period)
    server = BridgeServer(server_config(settings, host, port, lifecycle), lifecycle)
    try:
        server.run()
    finally:
        flush_logs()
