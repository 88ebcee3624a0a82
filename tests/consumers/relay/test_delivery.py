"""One subscription's sender against real HTTP receivers on loopback."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from common.contract import Event
from consumers.errors import Interrupted
from consumers.relay.config import PayloadFormat, Subscription
from consumers.relay.delivery import Attempt, WebhookSender, retry_after
from consumers.relay.payload import render
from consumers.relay.retry import RetryPolicy
from consumers.relay.signing import verify
from tests.support.receivers import Hang, Receiver, Step, dead_url, running

FAST = RetryPolicy(initial=0.01, max_delay=0.05, max_attempts=4, max_age=30)
EVENT = Event.from_raw({"id": "ev-1", "action": "push", "target": {"repository": "a/b", "tag": "v1"}})
PAYLOAD = render(PayloadFormat.REGISTRY, EVENT)


def subscription(url: str, **overrides: object) -> Subscription:
    settings: dict[str, object] = {"name": "s1", "url": url, "retry": FAST, "timeout": 2.0, **overrides}
    return Subscription(**settings)  # type: ignore[arg-type]


async def test_500_then_200_is_delivered_on_the_second_attempt() -> None:
    async with running(Receiver(script=[500])) as receiver:
        seen: list[Attempt] = []
        async with WebhookSender(subscription(receiver.url), on_attempt=seen.append) as sender:
            result = await sender.deliver(PAYLOAD, EVENT.id)
    assert (result.delivered, result.attempts, result.status) == (True, 2, 200)
    assert [a.status for a in seen] == [500, 200] and seen[0].retryable
    assert receiver.bodies() == [PAYLOAD.body, PAYLOAD.body]
    assert [r.headers["x-registry-delivery-attempt"] for r in receiver.requests] == ["1", "2"]
    assert receiver.requests[0].headers["x-registry-event-id"] == "ev-1"
    assert receiver.requests[0].headers["content-type"] == PAYLOAD.content_type


async def test_a_receiver_slower_than_the_timeout_is_retried() -> None:
    async with (
        running(Receiver(script=[Hang(3.0)])) as receiver,
        WebhookSender(subscription(receiver.url, timeout=0.3)) as sender,
    ):
        result = await sender.deliver(PAYLOAD, EVENT.id)
    assert (result.delivered, result.attempts) == (True, 2)


async def test_a_receiver_that_always_fails_is_given_up_after_max_attempts() -> None:
    async with (
        running(Receiver(default=503)) as receiver,
        WebhookSender(subscription(receiver.url)) as sender,
    ):
        result = await sender.deliver(PAYLOAD, EVENT.id)
    assert (result.delivered, result.attempts, result.status) == (False, 4, 503)
    assert result.error.startswith("HTTP 503")
    assert len(receiver.requests) == 4


async def test_a_client_error_is_permanent_at_once() -> None:
    async with (
        running(Receiver(default=404)) as receiver,
        WebhookSender(subscription(receiver.url)) as sender,
    ):
        result = await sender.deliver(PAYLOAD, EVENT.id)
    assert (result.delivered, result.attempts, result.status) == (False, 1, 404)


async def test_a_dead_receiver_is_given_up() -> None:
    async with WebhookSender(subscription(dead_url())) as sender:
        result = await sender.deliver(PAYLOAD, EVENT.id)
    assert (result.delivered, result.attempts, result.status) == (False, 4, None)
    assert "ConnectError" in result.error


async def test_the_signature_verifies_at_the_receiver() -> None:
    async with running(Receiver()) as receiver:
        sub = subscription(receiver.url, secret="s3cret", headers=(("Authorization", "Bearer t"),))
        async with WebhookSender(sub) as sender:
            await sender.deliver(PAYLOAD, EVENT.id)
    request = receiver.requests[0]
    header = request.headers["x-registry-signature"]
    stamp = verify("s3cret", header, request.body)
    recomputed = hmac.new(b"s3cret", f"{stamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert header == f"t={stamp},v1={recomputed}"
    assert request.headers["authorization"] == "Bearer t"
    with pytest.raises(ValueError, match="no signature matches"):
        verify("other", header, request.body)


async def test_no_secret_means_no_signature() -> None:
    async with running(Receiver()) as receiver, WebhookSender(subscription(receiver.url)) as sender:
        await sender.deliver(PAYLOAD, EVENT.id)
    assert "x-registry-signature" not in receiver.requests[0].headers


async def test_connections_are_reused() -> None:
    async with running(Receiver()) as receiver, WebhookSender(subscription(receiver.url)) as sender:
        for _ in range(5):
            assert (await sender.deliver(PAYLOAD, EVENT.id)).delivered
    assert len({r.client_port for r in receiver.requests}) == 1


async def test_stopping_cuts_a_backoff_short() -> None:
    async def stop_now(_seconds: float) -> None:
        raise Interrupted("stop requested")

    async with (
        running(Receiver(default=500)) as receiver,
        WebhookSender(subscription(receiver.url)) as sender,
    ):
        with pytest.raises(Interrupted):
            await sender.deliver(PAYLOAD, EVENT.id, stop_now)
    assert len(receiver.requests) == 1


async def test_retry_after_is_honoured() -> None:
    script: list[Step] = [429]
    async with running(Receiver(script=script, retry_after="1")) as receiver:
        seen: list[Attempt] = []
        async with WebhookSender(subscription(receiver.url), on_attempt=seen.append) as sender:
            result = await sender.deliver(PAYLOAD, EVENT.id)
    assert (result.delivered, result.attempts) == (True, 2)
    assert seen[0].retry_after == 1.0 and seen[0].status == 429


def test_retry_after_values() -> None:
    assert [retry_after(v) for v in (None, "3", " 7 ", "soon", "Wed, 21 Oct 2015 07:28:00 GMT")] == [
        None,
        3.0,
        7.0,
        None,
        None,
    ]
