"""The floors the stack sets, as ASGI apps for ``connection_cost.py``: run under uvicorn with the
same options as the bridge, they show what uvicorn alone (``null``) and uvicorn with a Starlette
route (``starlette``) cost per connection and request, with no Kafka.

``null`` reads the body and answers 200 with an empty body (what ``asgi_ceiling.py`` of the shared
harness does); ``starlette`` is a Starlette route that parses the body with orjson and answers 200
(``starlette_nokafka.py`` there); ``null_kafka`` is ``null`` plus one aiokafka ``send_and_wait`` of
the body per request (acks=all, the bridge's producer options, ``FLOOR_KAFKA_BOOTSTRAP``): the
least a bridge on this stack can do per event.
"""

from __future__ import annotations

import os
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Message = dict[str, Any]


async def null(scope: Message, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


async def null_kafka(scope: Message, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        producer = AIOKafkaProducer(
            bootstrap_servers=os.environ["FLOOR_KAFKA_BOOTSTRAP"],
            acks="all",
            linger_ms=0,
            max_batch_size=256 * 1024,
        )
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await producer.start()
                scope["state"]["producer"] = producer
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await producer.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    await scope["state"]["producer"].send_and_wait("floor.events", b"".join(chunks), key=b"bench/drain")
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


async def events(request: Request) -> Response:
    envelope = orjson.loads(await request.body())
    return Response(status_code=200 if envelope.get("events") else 400)


starlette = Starlette(routes=[Route("/events", events, methods=["POST"])])
