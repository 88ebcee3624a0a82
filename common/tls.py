"""HTTPS on a server of the project: :class:`ServerTLS`, read from one set of variables and
handed to uvicorn's ssl options.

The bridge's receiver reads ``REGBRIDGE_TLS_*``; the dashboard reads
``REGBRIDGE_DASHBOARD_TLS_*`` (:data:`DASHBOARD_TLS`). ``<prefix>TLS_CERT_FILE`` and
``<prefix>TLS_KEY_FILE`` (PEM; the certificate file may hold the chain) turn HTTPS on; then
plain HTTP on that port fails. With ``<prefix>TLS_CA_FILE`` every client must also present
a certificate signed by that CA (mutual TLS); the bearer token is still checked.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.environ import PREFIX, ConfigError, Environ


@dataclass(frozen=True, slots=True)
class TLSVariables:
    """The names (without ``REGBRIDGE_``) of one server's TLS variables."""

    cert_file: str
    key_file: str
    ca_file: str
    key_password: str

    @classmethod
    def prefixed(cls, prefix: str) -> TLSVariables:
        names = ("TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE", "TLS_KEY_PASSWORD")
        return cls(*(prefix + name for name in names))

    def names(self) -> tuple[str, ...]:
        return (self.cert_file, self.key_file, self.ca_file, self.key_password)


BRIDGE_TLS = TLSVariables.prefixed("")
DASHBOARD_TLS = TLSVariables.prefixed("DASHBOARD_")


@dataclass(frozen=True, slots=True)
class ServerTLS:
    """A server's certificate, key and optional client CA; all None: plain HTTP."""

    cert_file: Path | None = None
    key_file: Path | None = None
    ca_file: Path | None = None
    key_password: str = field(default="", repr=False)
    variables: TLSVariables = BRIDGE_TLS

    @classmethod
    def from_environ(cls, env: Environ, variables: TLSVariables = BRIDGE_TLS) -> ServerTLS:
        tls = cls(
            cert_file=env.path(variables.cert_file),
            key_file=env.path(variables.key_file),
            ca_file=env.path(variables.ca_file),
            key_password=env.secret(variables.key_password),
            variables=variables,
        )
        tls.check()
        if tls.enabled:
            tls.server_context()  # a wrong key or password fails at start-up, naming the variables
        return tls

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None

    def check(self) -> None:
        cert, key, ca = (PREFIX + n for n in self.variables.names()[:3])
        if (self.cert_file is None) != (self.key_file is None):
            raise ConfigError(f"{cert} and {key} go together: set both or neither")
        if self.ca_file is not None and not self.enabled:
            raise ConfigError(f"{ca} needs {cert} and {key}")
        for name, value in ((cert, self.cert_file), (key, self.key_file), (ca, self.ca_file)):
            if value is not None and not value.is_file():
                raise ConfigError(f"{name}={str(value)!r} is not a readable file")

    def server_context(self) -> ssl.SSLContext:
        """The context uvicorn will build, made once here to check the files."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            assert self.cert_file is not None
            context.load_cert_chain(self.cert_file, self.key_file, self.key_password or None)
            if self.ca_file is not None:
                context.load_verify_locations(self.ca_file)
        except (ssl.SSLError, OSError) as exc:
            cert, key, ca = (PREFIX + n for n in self.variables.names()[:3])
            raise ConfigError(f"{cert} / {key} / {ca} cannot be loaded: {exc}") from None
        return context

    def uvicorn_kwargs(self) -> dict[str, Any]:
        """``ssl_*`` keyword arguments for ``uvicorn.Config`` (empty: plain HTTP)."""
        if not self.enabled:
            return {}
        kwargs: dict[str, Any] = {"ssl_certfile": str(self.cert_file), "ssl_keyfile": str(self.key_file)}
        if self.key_password:
            kwargs["ssl_keyfile_password"] = self.key_password
        if self.ca_file is not None:
            kwargs["ssl_ca_certs"] = str(self.ca_file)
            kwargs["ssl_cert_reqs"] = ssl.CERT_REQUIRED
        return kwargs
