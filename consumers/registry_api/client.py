"""The registry API client: :class:`RegistryClient`, one ``httpx.AsyncClient`` with its auth
(:mod:`~consumers.registry_api.auth`) and its limits (:mod:`~consumers.registry_api.transport`).

Every request is retried on timeouts, connection errors, 429 and 5xx (up to
``attempts``, waiting at least what a ``Retry-After`` asks) through the project's one retry
loop, :func:`common.retry.retry`. What is left is raised as one of
:mod:`~consumers.registry_api.errors`. Manifests fetched by GET are checked against their
digest before anything reads them.

The owner opens it with ``async with RegistryClient(settings) as client`` (or calls
:meth:`RegistryClient.aclose`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import httpx
import orjson

from common.retry import Retrying, retry
from consumers.registry_api.auth import RegistryAuth
from consumers.registry_api.errors import (
    AccessDenied,
    BadContent,
    BadPagination,
    CredentialsRefused,
    NotFound,
    RegistryUnreachable,
    TokenUnavailable,
    UnexpectedAnswer,
)
from consumers.registry_api.manifests import (
    ACCEPT,
    MAX_MANIFEST_BYTES,
    Manifest,
    ManifestRef,
    check_digest,
    digest_of,
    parse_manifest,
)
from consumers.registry_api.pagination import check_catalog_page, check_tags_page, next_link
from consumers.registry_api.settings import RegistrySettings
from consumers.registry_api.transport import LimitedTransport, Observer

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_JSON_BYTES = 32 * 1024 * 1024
_REPOSITORY = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
log = logging.getLogger("consumers.registry_api")

Answer = tuple[httpx.Response, bytes]


def retry_after(response: httpx.Response) -> float:
    """Seconds a ``Retry-After`` header asks for (a number or an HTTP date); 0 without one."""
    value = (response.headers.get("retry-after") or "").strip()
    if not value:
        return 0.0
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    date = response.headers.get("date")
    now = parsedate_to_datetime(date) if date else None
    return max(0.0, (moment - now).total_seconds()) if now else 0.0


def registry_error(body: bytes) -> str:
    """``CODE: message`` of the registry's error body, or ``""``."""
    try:
        decoded = orjson.loads(body)
        first = decoded["errors"][0]
        return f"{first.get('code', '')}: {first.get('message', '')}".strip(": ")
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
        return ""


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError | TokenUnavailable)


def _checked_reference(reference: str) -> str:
    if not (_TAG.match(reference) or _DIGEST.match(reference)):
        raise BadContent(f"{reference!r} is neither a tag nor a digest")
    return reference


def checked_repository(name: str) -> str:
    """A repository name as distribution allows them; raises :class:`BadContent`."""
    if len(name) > 255 or not _REPOSITORY.match(name):
        raise BadContent(f"{name!r} is not a valid repository name")
    return name


class RegistryClient:
    """The registry's ``/v2/`` API: catalog, tag lists, manifests by tag and by digest."""

    def __init__(
        self,
        settings: RegistrySettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.settings = settings
        verify: Any = settings.ssl_context() if settings.url.startswith("https:") else True
        limits = httpx.Limits(
            max_connections=settings.concurrency * 2, max_keepalive_connections=settings.concurrency
        )
        inner = transport or httpx.AsyncHTTPTransport(verify=verify, retries=0, limits=limits)
        self.transport = LimitedTransport(inner, settings.concurrency, settings.max_rps, observer)
        self.auth = RegistryAuth(settings.username, settings.password)
        self._client = httpx.AsyncClient(
            base_url=settings.url,
            transport=self.transport,
            auth=self.auth,
            timeout=settings.timeout,
            headers={"User-Agent": settings.user_agent},
        )

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def requests(self) -> int:
        """HTTP requests sent so far (token requests and auth round trips included)."""
        return self.transport.requests

    async def _attempt(self, method: str, url: httpx.URL | str, accept: str | None, limit: int) -> Answer:
        headers = {"Accept": accept} if accept else {}
        request = self._client.build_request(method, url, headers=headers)
        response = await self._client.send(request, stream=True)
        try:
            body = await _read(response, limit)  # a HEAD too: an unread stream closes the connection
        finally:
            await response.aclose()
        return response, body

    async def _send(
        self, method: str, url: httpx.URL | str, *, accept: str | None = None, limit: int = MAX_JSON_BYTES
    ) -> Answer:
        """One request with its retries; raises :class:`RegistryUnreachable` when they are spent."""
        where = f"{method} {httpx.URL(str(url)).path}"

        def on_retry(state: Retrying) -> None:
            status = state.result[0].status_code if isinstance(state.result, tuple) else None
            fields = {"request": where, "attempt": state.attempt, "retry_in_s": round(state.delay, 2)}
            why = f"status {status}" if status else f"{type(state.error).__name__}: {state.error}"
            log.warning("registry request failed, retrying", extra={"fields": fields | {"error": why[:300]}})

        try:
            response, body = await retry(
                lambda: self._attempt(method, url, accept, limit),
                self.settings.backoff,
                retry_on=_transient,
                retry_result=lambda answer: answer[0].status_code in RETRY_STATUSES,
                at_least=lambda answer: retry_after(answer[0]),
                on_retry=on_retry,
                max_attempts=self.settings.attempts,
            )
        except httpx.TimeoutException:
            raise RegistryUnreachable(f"{where}: timed out ({self.settings.attempts} attempts)") from None
        except httpx.TransportError as exc:
            raise RegistryUnreachable(f"{where}: {type(exc).__name__}: {exc or 'no answer'}") from None
        if response.status_code in RETRY_STATUSES:
            detail = registry_error(body)
            raise RegistryUnreachable(
                f"{where}: answered {response.status_code} ({self.settings.attempts} attempts)"
                + (f": {detail}" if detail else "")
            )
        return response, body

    def _raise_for(self, response: httpx.Response, body: bytes, repository: str | None) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        where = f"{response.request.method} {response.request.url.path}"
        detail = registry_error(body) or response.reason_phrase
        if status == 401:
            challenge = " ".join(response.headers.get_list("www-authenticate"))
            if "insufficient_scope" in challenge and not self.settings.username:
                raise CredentialsRefused(
                    f"{where}: anonymous access grants nothing here (no credentials set)"
                )
            if "insufficient_scope" in challenge:
                raise AccessDenied(f"{where}: the token does not grant this ({detail})", repository)
            who = (
                "the configured credentials" if self.settings.username else "no credentials (none configured)"
            )
            raise CredentialsRefused(f"{where}: the registry refused {who} ({detail})")
        if status == 403:
            raise AccessDenied(f"{where}: forbidden ({detail})", repository)
        if status == 404:
            raise NotFound(f"{where}: {detail}")
        if status == 400 and "PAGINATION_NUMBER_INVALID" in detail:
            raise BadPagination(f"{where}: the registry refuses n={self.settings.page_size} ({detail})")
        raise UnexpectedAnswer(f"{where}: answered {status} ({detail})", status)

    async def _json(
        self, url: httpx.URL | str, repository: str | None
    ) -> tuple[httpx.Response, dict[str, Any]]:
        response, body = await self._send("GET", url)
        self._raise_for(response, body, repository)
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            decoded = None
        if not isinstance(decoded, dict):
            raise BadContent(f"GET {response.request.url.path}: the answer is not a JSON object")
        return response, decoded

    async def ping(self) -> None:
        """``GET /v2/``: the registry answers and accepts the credentials."""
        response, body = await self._send("GET", "/v2/")
        self._raise_for(response, body, None)

    async def catalog(self, *, after: str | None = None) -> AsyncIterator[list[str]]:
        """The catalog, one sorted page at a time, starting after ``after``."""
        params: dict[str, Any] = {"n": self.settings.page_size}
        if after:
            params["last"] = after
        url: httpx.URL | None = httpx.URL("/v2/_catalog", params=params)
        previous = after
        while url is not None:
            response, body = await self._json(url, None)
            names = _names(body, "repositories", "GET /v2/_catalog")
            check_catalog_page(names, previous, "GET /v2/_catalog")
            if not names:
                return
            yield names
            previous = names[-1]
            url = next_link(response)
            if url is None and len(names) == self.settings.page_size:
                # a full page without a Link: some registries only honour `last`
                url = httpx.URL("/v2/_catalog", params={"n": self.settings.page_size, "last": previous})

    async def tags(self, repository: str) -> list[str]:
        """Every tag of ``repository`` (all pages); raises :class:`NotFound` for an unknown one."""
        where = f"GET /v2/{checked_repository(repository)}/tags/list"
        url: httpx.URL | None = httpx.URL(
            f"/v2/{repository}/tags/list", params={"n": self.settings.page_size}
        )
        found: list[str] = []
        seen: set[str] = set()
        while url is not None:
            response, body = await self._json(url, repository)
            names = _names(body, "tags", where)
            check_tags_page(names, seen, where)
            seen.update(names)
            found.extend(names)
            url = next_link(response) if names else None
        return found

    async def head_manifest(self, repository: str, reference: str) -> ManifestRef | None:
        """What ``reference`` (a tag or digest) points at; None when it does not exist."""
        path = f"/v2/{checked_repository(repository)}/manifests/{_checked_reference(reference)}"
        response, body = await self._send("HEAD", path, accept=ACCEPT)
        if response.status_code == 404:
            return None
        self._raise_for(response, body, repository)
        digest = response.headers.get("docker-content-digest")
        if not digest:
            if ":" in reference:
                digest = reference
            else:
                return (await self.get_manifest(repository, reference)).ref
        return ManifestRef(digest, _media_type(response), _length(response))

    async def get_manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest ``reference`` names, its bytes checked against its digest."""
        path = f"/v2/{checked_repository(repository)}/manifests/{_checked_reference(reference)}"
        response, body = await self._send("GET", path, accept=ACCEPT, limit=MAX_MANIFEST_BYTES)
        self._raise_for(response, body, repository)
        media_type = _media_type(response)
        by_digest = ":" in reference  # a tag has no colon
        header = response.headers.get("docker-content-digest")
        digest = reference if by_digest else header or digest_of(body)
        where = f"{repository}@{digest}" if by_digest else f"{repository}:{reference}"
        if header and header != digest:
            raise BadContent(f"{where}: the registry says it is {header}")
        check_digest(body, digest, media_type, where)
        content = parse_manifest(body, media_type, where)
        return Manifest(ManifestRef(digest, media_type or content.media_type, len(body)), body, content)

    async def delete_manifest(self, repository: str, digest: str) -> None:
        """``DELETE /v2/<name>/manifests/<digest>``; 405 (deletes disabled) is an
        :class:`UnexpectedAnswer` with ``status`` 405."""
        path = f"/v2/{checked_repository(repository)}/manifests/{_checked_reference(digest)}"
        response, body = await self._send("DELETE", path)
        self._raise_for(response, body, repository)


async def _read(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            where = f"{response.request.method} {response.request.url.path}"
            raise BadContent(f"{where}: the answer is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _names(body: dict[str, Any], key: str, where: str) -> list[str]:
    names = body.get(key)
    if names is None:
        return []  # distribution answers "tags": null for a repository without tags
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise BadContent(f"{where}: {key!r} is not a list of names")
    return names


def _media_type(response: httpx.Response) -> str | None:
    value = response.headers.get("content-type", "").split(";", 1)[0].strip()
    return value or None


def _length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None
