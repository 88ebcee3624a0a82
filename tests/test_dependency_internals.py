"""Canaries for the internals of aiokafka and uvicorn that the project relies on. Each fails
loudly, naming what moved, when an upgrade changes one (the versions are bounded in
pyproject.toml for the same reason). The behaviour built on them is tested for real
elsewhere: the header timeout in tests/bridge/test_hostile.py, the header-size cap in
tests/consumers/dashboard/test_hostile.py, the producer abort in
tests/faults/, the servers' signal handling in the shutdown tests."""

from __future__ import annotations

import inspect

import uvicorn
from aiokafka import AIOKafkaProducer
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import Server, ServerState

from bridge.publisher import INIT_PRODUCER_ID_ERROR, SENDER_LOGGER
from common.protocol import HeaderTimeoutProtocol, header_timeout_protocol


async def test_aiokafka_producer_internals_used_to_abort_it() -> None:
    """bridge.publisher._abort stops ``producer._sender.sender_task`` and calls
    ``producer._message_accumulator.fail_all(error)``."""
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1")
    try:
        assert hasattr(producer._sender, "sender_task"), "aiokafka moved Sender.sender_task"
        fail_all = producer._message_accumulator.fail_all
        assert list(inspect.signature(fail_all).parameters) == ["exception"], "fail_all changed"
    finally:
        await producer.stop()


def test_aiokafka_logs_the_init_producer_id_refusal_where_the_publisher_filters_it() -> None:
    """bridge.publisher.refusal_said_once filters this line on this logger during its probe."""
    from aiokafka.producer import sender

    assert sender.log.name == SENDER_LOGGER, "aiokafka's sender logs under another name"
    assert INIT_PRODUCER_ID_ERROR in inspect.getsource(sender.InitPIDHandler), "the wording changed"


def test_uvicorn_httptools_protocol_hooks_the_header_timeout_overrides() -> None:
    hooks = ("connection_made", "connection_lost", "data_received", "on_message_begin", "on_headers_complete")
    for name in (*hooks, "on_message_complete"):
        assert callable(getattr(HttpToolsProtocol, name, None)), f"HttpToolsProtocol.{name} is gone"
    assert issubclass(header_timeout_protocol(1.0), HeaderTimeoutProtocol)


async def test_uvicorn_httptools_protocol_keeps_loop_and_transport() -> None:
    config = uvicorn.Config(app=lambda scope, receive, send: None, http="httptools")
    config.load()
    protocol = HttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
    assert hasattr(protocol, "loop"), "HttpToolsProtocol.loop is gone (the header timer needs it)"
    assert "self.transport" in inspect.getsource(HttpToolsProtocol.connection_made)


def test_uvicorn_server_methods_the_servers_override() -> None:
    """BridgeServer (handle_exit, startup, on_tick), DashboardServer (handle_exit) and the
    consumers' metrics server (capture_signals, a no-op there)."""
    assert list(inspect.signature(Server.handle_exit).parameters) == ["self", "sig", "frame"]
    assert list(inspect.signature(Server.on_tick).parameters) == ["self", "counter"]
    assert "sockets" in inspect.signature(Server.startup).parameters
    assert "capture_signals" in inspect.getsource(Server.serve), "Server.serve no longer captures signals"
    server = Server(uvicorn.Config(app=lambda scope, receive, send: None))
    for flag in ("should_exit", "force_exit", "started"):
        assert hasattr(server, flag), f"uvicorn.Server.{flag} is gone"
    assert hasattr(server.config, "timeout_graceful_shutdown")
