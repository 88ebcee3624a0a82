"""Authentication against a registry, as an ``httpx.Auth``: :class:`RegistryAuth`.

The first request goes out bare (or with what an earlier answer taught). On a 401 the
``WWW-Authenticate`` challenge says how to authenticate:

* ``Basic realm=…``: the request is sent again with the configured credentials, and every
  later request carries them from the start;
* ``Bearer realm=…,service=…,scope=…`` (the Docker token flow): a token for that scope is
  fetched from the realm (``GET realm?service=…&scope=…``, with the credentials as basic
  auth when there are any, anonymously otherwise), cached per scope until shortly before
  it expires, and the request is sent again with it. Later requests for the same
  repository (or the catalog) carry the cached token from the start, so a pass makes one
  token request per repository, not one per request.

A token server that refuses the credentials raises
:class:`~consumers.registry_api.errors.CredentialsRefused`; one that does not answer
usefully raises :class:`~consumers.registry_api.errors.TokenUnavailable` (retried). A 401
that survives all this is returned as it is: the client maps it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import httpx

from consumers.registry_api.errors import CredentialsRefused, TokenUnavailable

_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)\s*,?')
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9_-]*)(?:\s+|$)")
_REPOSITORY_PATH = re.compile(r"^/v2/(.+?)/(manifests|tags|blobs|referrers)/")
TOKEN_MARGIN_S = 10.0  # renew a token this long before it expires
DEFAULT_TOKEN_LIFETIME_S = 60.0  # what the token spec assumes when expires_in is missing


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # lower case: basic, bearer, ...
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(values: list[str]) -> list[Challenge]:
    """Every challenge of the ``WWW-Authenticate`` headers (RFC 9110 §11.6.1): a scheme,
    then ``key=value`` or ``key="quoted, value"`` pairs."""
    found: list[Challenge] = []
    for value in values:
        position = 0
        while position < len(value):
            scheme = _SCHEME.match(value, position)
            if scheme is None:
                break
            params: dict[str, str] = {}
            position = scheme.end()
            while (param := _PARAM.match(value, position)) is not None and param.end() > position:
                text = param.group(2)
                params[param.group(1).lower()] = (
                    re.sub(r"\\(.)", r"\1", text[1:-1]) if text.startswith('"') else text
                )
                position = param.end()
            found.append(Challenge(scheme.group(1).lower(), params))
            position = max(position, scheme.end())
            while position < len(value) and value[position] in ", ":
                position += 1
    return found


def scope_key(request: httpx.Request) -> str:
    """What a request needs, as a token scope would name it (the cache key)."""
    path = request.url.path
    if path.startswith("/v2/_catalog"):
        return "registry:catalog:*"
    match = _REPOSITORY_PATH.match(path)
    if match is None:
        return ""
    method = request.method.upper()
    action = "pull" if method in ("GET", "HEAD") else "delete" if method == "DELETE" else "pull,push"
    return f"repository:{match.group(1)}:{action}"


@dataclass(slots=True)
class _Token:
    value: str
    expires: float


class RegistryAuth(httpx.Auth):
    """Basic auth and the Docker token flow; one per client, shared by its requests."""

    def __init__(
        self, username: str = "", password: str = "", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._basic = httpx.BasicAuth(username, password)._auth_header if username else None
        self._clock = clock
        self._send_basic = False
        self._scopes: dict[str, str] = {}  # scope_key → the scope the registry asked for
        self._tokens: dict[str, _Token] = {}  # scope → token
        self._locks: dict[str, asyncio.Lock] = {}
        self.token_requests = 0

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("RegistryAuth works with httpx.AsyncClient only")

    def _cached(self, key: str) -> str | None:
        scope = self._scopes.get(key)
        token = self._tokens.get(scope) if scope is not None else None
        if token is None or token.expires <= self._clock():
            return None
        return token.value

    def _attach(self, request: httpx.Request, key: str) -> None:
        token = self._cached(key)
        if token is not None:
            request.headers["Authorization"] = f"Bearer {token}"
        elif self._send_basic and self._basic:
            request.headers["Authorization"] = self._basic

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        key = scope_key(request)
        self._attach(request, key)
        presented = self._cached(key)
        response = yield request
        if response.status_code != 401:
            return
        challenges = parse_challenges(response.headers.get_list("www-authenticate"))
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        if bearer is not None and "realm" in bearer.params:
            if bearer.params.get("error") == "insufficient_scope" and presented is not None:
                return  # a valid token and still refused: the token server granted less
            if presented is not None:  # expired or revoked early: fetch a new one
                self._tokens.pop(self._scopes.pop(key, ""), None)
            async with self._lock(bearer.params.get("scope", "")):
                token = self._cached(key) if key in self._scopes else None
                if token is None:
                    answer = yield self._token_request(bearer)
                    token = await self._store_token(answer, bearer, key)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request
        elif any(c.scheme == "basic" for c in challenges) and self._basic and not self._send_basic:
            self._send_basic = True
            request.headers["Authorization"] = self._basic
            yield request

    def _lock(self, scope: str) -> asyncio.Lock:
        return self._locks.setdefault(scope, asyncio.Lock())

    def _token_request(self, challenge: Challenge) -> httpx.Request:
        params = {name: challenge.params[name] for name in ("service", "scope") if challenge.params.get(name)}
        headers = {"Authorization": self._basic} if self._basic else {}
        self.token_requests += 1
        return httpx.Request("GET", challenge.params["realm"], params=params, headers=headers)

    async def _store_token(self, answer: httpx.Response, challenge: Challenge, key: str) -> str:
        await answer.aread()
        realm = challenge.params["realm"]
        if answer.status_code in (401, 403):
            who = (
                "the configured credentials"
                if self._basic
                else "anonymous access (no credentials configured)"
            )
            raise CredentialsRefused(f"the token server {realm} refused {who} ({answer.status_code})")
        if answer.status_code != 200:
            raise TokenUnavailable(f"the token server {realm} answered {answer.status_code}")
        body = _json(answer)
        value = body.get("token") or body.get("access_token")
        if not isinstance(value, str) or not value:
            raise TokenUnavailable(f"the token server {realm} answered without a token")
        lifetime = body.get("expires_in")
        seconds = (
            float(lifetime)
            if isinstance(lifetime, int | float) and lifetime > 0
            else DEFAULT_TOKEN_LIFETIME_S
        )
        scope = challenge.params.get("scope", "")
        self._tokens[scope] = _Token(value, self._clock() + max(1.0, seconds - TOKEN_MARGIN_S))
        self._scopes[key] = scope
        return value


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TokenUnavailable(f"the token server {answer.request.url.host} answered with no JSON object")
    return body
