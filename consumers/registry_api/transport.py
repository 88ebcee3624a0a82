"""The limits every registry request goes through, as an httpx transport around the real
one: at most ``concurrency`` requests in flight (a request holds its slot until its body
is read or closed), at most ``max_rps`` started per second (evenly spaced, no bursts; 0:
no limit). Token requests and the 401 round trips of the auth flow count like any other.

Each finished request is reported to ``observer(method, status)`` (status None when no
answer came), which the reconcile turns into metrics.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx

Observer = Callable[[str, int | None], None]


class RateLimit:
    """Start times spaced ``1 / per_second`` apart; :meth:`reserve` is pure arithmetic on
    the clock, so it is testable without waiting."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._clock = clock
        self._next = 0.0

    def reserve(self) -> float:
        """Take the next slot; returns how long to wait for it."""
        if not self.interval:
            return 0.0
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self.interval
        return slot - now

    async def wait(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        delay = self.reserve()
        if delay > 0:
            await sleep(delay)


class _Releasing(httpx.AsyncByteStream):
    """A response body that gives its request's slot back once read or closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream, self._release = stream, release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._release()


class LimitedTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        concurrency: int,
        max_rps: float,
        observer: Observer | None = None,
    ) -> None:
        self._inner = inner
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self.rate = RateLimit(max_rps)
        self._observer = observer
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._slots.acquire()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._slots.release()

        try:
            await self.rate.wait()
            self.requests += 1
            response = await self._inner.handle_async_request(request)
        except BaseException:
            release()
            self._observe(request.method, None)
            raise
        self._observe(request.method, response.status_code)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Releasing(response.stream, release),
            extensions=response.extensions,
            request=request,
        )

    def _observe(self, method: str, status: int | None) -> None:
        if self._observer is not None:
            self._observer(method, status)

    async def aclose(self) -> None:
        await self._inner.aclose()
