"""HTTPS on a server of the project: :class:`ServerTLS`, read from one set of variables and
handed to uvicorn's ssl options.

The bridge's receiver reads ``REGBRIDGE_TLS_*``; the dashboard reads
``REGBRIDGE_DASHBOARD_TLS_*`` (:data:`DASHBOARD_TLS`). ``<prefix>TLS_CERT_FILE`` and
``<prefix>TLS_KEY_FILE`` (PEM; the certificate file may hold the chain) turn HTTPS on; then
plain HTTP on that port fails. With ``<prefix>TLS_CA_FILE`` every client must also present
a certificate signed by that CA (mutual TLS); the bearer token is still checked.

The bridge issues no TLS session tickets. A registry opens a new connection for every event
and never resumes a session (Go's HTTP client keeps no session cache), so the two TLS 1.3
tickets OpenSSL would send after each handshake are work for both sides and bytes on the
wire for nothing (measured: 8 % of the bridge's instructions per HTTPS event, see
``docs/performance.md``). The dashboard keeps them: browsers do resume.
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
    session_tickets: bool = True  # False for a server whose clients never resume (the bridge)

    @classmethod
    def prefixed(cls, prefix: str, *, session_tickets: bool = True) -> TLSVariables:
        cert, key, ca, password = (
            prefix + name for name in ("TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE", "TLS_KEY_PASSWORD")
        )
        return cls(cert, key, ca, password, session_tickets=session_tickets)

    def names(self) -> tuple[str, ...]:
        return (self.cert_file, self.key_file, self.ca_file, self.key_password)


BRIDGE_TLS = TLSVariables.prefixed("", session_tickets=False)
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
        """The server's context (the one uvicorn serves with); a file that cannot be loaded
        raises :class:`ConfigError` naming the variables."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if not self.variables.session_tickets:
            context.num_tickets = 0  # nobody resumes: see the module's docstring
        try:
            assert self.cert_file is not None
            context.load_cert_chain(self.cert_file, self.key_file, self.key_password or None)
            if self.ca_file is not None:
                context.load_verify_locations(self.ca_file)
                context.verify_mode = ssl.CERT_REQUIRED
        except (ssl.SSLError, OSError) as exc:
            cert, key, ca = (PREFIX + n for n in self.variables.names()[:3])
            raise ConfigError(f"{cert} / {key} / {ca} cannot be loaded: {exc}") from None
        return context

    def uvicorn_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``uvicorn.Config`` (empty: plain HTTP): uvicorn serves
        :meth:`server_context`."""
        if not self.enabled:
            return {}
        return {"ssl_context_factory": lambda config, default: self.server_context()}
