"""Delivering one event to one subscription's URL, with its retry policy.

Each subscription owns one :class:`WebhookSender`, which owns one pooled ``httpx.AsyncClient``
(keep-alive connections are reused from one delivery to the next). Open and close it with
``async with``.

Outcome of one attempt:

* 2xx: delivered.
* 408, 425, 429, any 5xx, a timeout or a network error: retryable, per the retry policy.
* any other status (3xx, since redirects are not followed, and the other 4xx): permanent, so the
  relay gives up at once; retrying cannot fix a wrong URL or a rejected signature.

A ``Retry-After: <seconds>`` answer lengthens the next wait (never beyond ``max_delay``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import httpx

from common.retry import Sleep, retry
from consumers.relay.config import Subscription
from consumers.relay.payload import Payload
from consumers.relay.signing import SIGNATURE_HEADER, sign

__all__ = ["Attempt", "DeliveryOutcome", "WebhookSender", "classify", "retry_after"]
USER_AGENT = "registry-kafka-bridge-relay/0.1"
RETRYABLE_STATUSES = frozenset({408, 425, 429})
ERROR_TEXT_LIMIT = 512


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP attempt (``number`` counts from 1): ``status`` is None when no answer came back."""

    number: int
    ok: bool
    retryable: bool
    status: int | None
    error: str
    seconds: float
    retry_after: float | None = None  # the answer's Retry-After, in seconds


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """How delivering one event ended."""

    delivered: bool
    attempts: int
    error: str  # the last attempt's error, empty when delivered
    status: int | None


def classify(status: int) -> tuple[bool, bool]:
    """``(ok, retryable)`` for an HTTP status."""
    if 200 <= status < 300:
        return True, False
    return False, status >= 500 or status in RETRYABLE_STATUSES


class WebhookSender:
    """Sends events to one subscription. ``stopping`` cuts a backoff wait short."""

    def __init__(
        self,
        subscription: Subscription,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
    ) -> None:
        self.subscription = subscription
        self._on_attempt = on_attempt or (lambda _attempt: None)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(subscription.timeout),
            # one connection per partition in flight; idle ones are dropped before the common 5 s
            # server keep-alive (uvicorn, nginx's default is longer) closes them under our feet
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32, keepalive_expiry=4.0),
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": USER_AGENT, **dict(subscription.headers)},
        )

    async def __aenter__(self) -> WebhookSender:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._client.aclose()

    def _headers(self, payload: Payload, event_id: str, attempt: int) -> dict[str, str]:
        headers = {
            "Content-Type": payload.content_type,
            "X-Registry-Event-Id": event_id,
            "X-Registry-Subscription": self.subscription.name,
            "X-Registry-Delivery-Attempt": str(attempt),
        }
        if self.subscription.secret is not None:
            headers[SIGNATURE_HEADER] = sign(self.subscription.secret, payload.body)
        return headers

    async def attempt(self, payload: Payload, event_id: str, number: int = 1) -> Attempt:
        """One POST; never raises for HTTP or network trouble."""
        started = time.perf_counter()
        headers = self._headers(payload, event_id, number)
        try:
            # httpx's timeout bounds each phase; this bounds the whole attempt (a slow drip too)
            async with asyncio.timeout(self.subscription.timeout):
                response = await self._client.post(
                    self.subscription.url, content=payload.body, headers=headers
                )
        except (httpx.TimeoutException, TimeoutError) as exc:
            return Attempt(
                number, False, True, None, f"timeout: {type(exc).__name__}", time.perf_counter() - started
            )
        except httpx.TransportError as exc:
            error = f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_LIMIT]
            return Attempt(number, False, True, None, error, time.perf_counter() - started)
        ok, retryable = classify(response.status_code)
        error = "" if ok else f"HTTP {response.status_code}: {response.text[:200]}"
        elapsed = time.perf_counter() - started
        wait = retry_after(response.headers.get("retry-after"))
        return Attempt(number, ok, retryable, response.status_code, error, elapsed, wait)

    async def deliver(self, payload: Payload, event_id: str, pause: Sleep = asyncio.sleep) -> DeliveryOutcome:
        """Attempts until delivered or the subscription's retry policy gives up.

        ``pause(seconds)`` waits between attempts; the relay's raises
        :class:`~consumers.errors.Interrupted` when it is stopping, which ends the delivery.
        """
        policy = self.subscription.retry
        attempts = iter(range(1, policy.max_attempts + 1))

        async def once() -> Attempt:
            result = await self.attempt(payload, event_id, next(attempts))
            self._on_attempt(result)
            return result

        last = await retry(
            once,
            policy.backoff,
            retry_on=lambda _exc: False,  # attempt() never raises for HTTP or network trouble
            retry_result=lambda a: not a.ok and a.retryable,
            at_least=lambda a: a.retry_after or 0.0,
            sleep=pause,
            max_attempts=policy.max_attempts,
            max_age=policy.max_age,
        )
        return DeliveryOutcome(last.ok, last.number, "" if last.ok else last.error, last.status)


def retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` in seconds (the HTTP-date form is ignored)."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())
