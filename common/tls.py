"""HTTPS on the receiver: :class:`ReceiverTLS`, read from ``REGBRIDGE_TLS_*`` and handed
to uvicorn's ssl options.

``REGBRIDGE_TLS_CERT_FILE`` and ``REGBRIDGE_TLS_KEY_FILE`` (PEM; the certificate file may
hold the chain) turn HTTPS on; then plain HTTP on that port fails. With
``REGBRIDGE_TLS_CA_FILE`` every client must also present a certificate signed by that CA
(mutual TLS); the bearer token is still checked.

The server issues no TLS session tickets. A registry opens a new connection for every event
and never resumes a session (Go's HTTP client keeps no session cache), so the two TLS 1.3
tickets OpenSSL would send after each handshake are work for both sides and bytes on the
wire for nothing (measured: 8 % of the bridge's instructions per HTTPS event, see
``docs/performance.md``).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.environ import PREFIX, ConfigError, Environ


@dataclass(frozen=True, slots=True)
class ReceiverTLS:
    """The receiver's certificate, key and optional client CA; all None: plain HTTP."""

    cert_file: Path | None = None
    key_file: Path | None = None
    ca_file: Path | None = None
    key_password: str = field(default="", repr=False)

    @classmethod
    def from_environ(cls, env: Environ) -> ReceiverTLS:
        tls = cls(
            cert_file=env.path("TLS_CERT_FILE"),
            key_file=env.path("TLS_KEY_FILE"),
            ca_file=env.path("TLS_CA_FILE"),
            key_password=env.secret("TLS_KEY_PASSWORD"),
        )
        tls.check()
        if tls.enabled:
            tls.server_context()  # a wrong key or password fails at start-up, naming the variables
        return tls

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None

    def check(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ConfigError(
                f"{PREFIX}TLS_CERT_FILE and {PREFIX}TLS_KEY_FILE go together: set both or neither"
            )
        if self.ca_file is not None and not self.enabled:
            raise ConfigError(f"{PREFIX}TLS_CA_FILE needs {PREFIX}TLS_CERT_FILE and {PREFIX}TLS_KEY_FILE")
        for name, value in (("CERT", self.cert_file), ("KEY", self.key_file), ("CA", self.ca_file)):
            if value is not None and not value.is_file():
                raise ConfigError(f"{PREFIX}TLS_{name}_FILE={str(value)!r} is not a readable file")

    def server_context(self) -> ssl.SSLContext:
        """The server's context (the one uvicorn serves with); a file that cannot be loaded
        raises :class:`ConfigError` naming the variables."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.num_tickets = 0  # nobody resumes: see the module's docstring
        try:
            assert self.cert_file is not None
            context.load_cert_chain(self.cert_file, self.key_file, self.key_password or None)
            if self.ca_file is not None:
                context.load_verify_locations(self.ca_file)
                context.verify_mode = ssl.CERT_REQUIRED
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"{PREFIX}TLS_CERT_FILE / {PREFIX}TLS_KEY_FILE / {PREFIX}TLS_CA_FILE cannot be loaded: {exc}"
            ) from None
        return context

    def uvicorn_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``uvicorn.Config`` (empty: plain HTTP): uvicorn serves
        :meth:`server_context`."""
        if not self.enabled:
            return {}
        return {"ssl_context_factory": lambda config, default: self.server_context()}
