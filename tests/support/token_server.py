"""A Docker token server for the tests (the ``auth: token`` flow of distribution).

It answers ``GET /token?service=…&scope=…`` with a real JWT (ES256, PyJWT) signed by a
throwaway key; the key's self-signed certificate is the registry's ``rootcertbundle``,
and the token's ``x5c`` header carries it, so the real registry verifies every token
itself. Users are checked with HTTP basic auth; a user is granted no action on the
repositories ``hidden[user]`` names (the registry then answers 401 ``insufficient_scope``);
a request without credentials gets a token that grants nothing. Every request is recorded.

Runs uvicorn on a free loopback port in a thread of its own (tests call it from sync and
async code alike); ``stop()`` ends it.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import trustme
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.ports import free_port
from tests.support.registry import TokenAuth

SERVICE = "regbridge-test-registry"
ISSUER = "regbridge-test-issuer"


@dataclass(frozen=True)
class TokenRequest:
    user: str | None
    scopes: tuple[str, ...]
    granted: tuple[tuple[str, tuple[str, ...]], ...]  # (name, actions) per scope


def _user(request: Request, users: Mapping[str, str]) -> tuple[bool, str | None]:
    """(credentials acceptable, user): no header is anonymous, a wrong one is refused."""
    header = request.headers.get("authorization", "")
    if not header:
        return True, None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return False, None
    try:
        name, _, password = base64.b64decode(value).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False, None
    return users.get(name) == password, name


def _scope(text: str) -> tuple[str, str, tuple[str, ...]]:
    kind, _, rest = text.partition(":")
    name, _, actions = rest.rpartition(":")
    return kind, name, tuple(a for a in actions.split(",") if a)


class TokenServer:
    def __init__(
        self,
        workdir: Path,
        users: Mapping[str, str],
        *,
        hidden: Mapping[str, Collection[str]] | None = None,
        lifetime: int = 300,
    ) -> None:
        self.users = dict(users)
        self.hidden = {user: set(names) for user, names in (hidden or {}).items()}
        self.lifetime = lifetime
        self.port = free_port()
        self.requests: list[TokenRequest] = []
        self._lock = threading.Lock()
        signer = trustme.CA(key_type=trustme.KeyType.ECDSA)
        workdir.mkdir(parents=True, exist_ok=True)
        self.bundle = workdir / "token-signer.pem"
        signer.cert_pem.write_to_path(str(self.bundle))
        certificate = x509.load_pem_x509_certificate(signer.cert_pem.bytes())
        self._x5c = [base64.b64encode(certificate.public_bytes(Encoding.DER)).decode()]
        self._key = signer.private_key_pem.bytes()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def registry_auth(self) -> TokenAuth:
        return TokenAuth(self.realm, SERVICE, ISSUER, self.bundle)

    def recorded(self) -> list[TokenRequest]:
        with self._lock:
            return list(self.requests)

    def _grant(self, user: str | None, scopes: list[str]) -> list[dict[str, Any]]:
        access = []
        for text in scopes:
            kind, name, actions = _scope(text)
            allowed = user is not None and name not in self.hidden.get(user, ())
            access.append({"type": kind, "name": name, "actions": list(actions) if allowed else []})
        return access

    async def _token(self, request: Request) -> Response:
        ok, user = _user(request, self.users)
        scopes = [s for value in request.query_params.getlist("scope") for s in value.split(" ") if s]
        if not ok:
            return JSONResponse({"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}, 401)
        access = self._grant(user, scopes)
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": user or "",
            "aud": request.query_params.get("service", SERVICE),
            "exp": now + self.lifetime,
            "nbf": now - 1,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        token = jwt.encode(claims, self._key, algorithm="ES256", headers={"x5c": self._x5c})
        granted = tuple((a["name"], tuple(a["actions"])) for a in access)
        with self._lock:
            self.requests.append(TokenRequest(user, tuple(scopes), granted))
        return JSONResponse({"token": token, "access_token": token, "expires_in": self.lifetime})

    def start(self) -> None:
        app = Starlette(routes=[Route("/token", self._token, methods=["GET"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=asyncio.run, args=(self._server.serve(),), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the token server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
