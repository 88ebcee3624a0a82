"""How every Kafka client of the project (the bridge's producer, the consumers' consumer
and dead-letter producer) authenticates and encrypts: one frozen :class:`KafkaSecurity`,
read once from ``REGBRIDGE_KAFKA_*`` variables, turned into aiokafka keyword arguments by
:meth:`KafkaSecurity.client_kwargs`.

=====================  ==========================================================
``SECURITY_PROTOCOL``  ``PLAINTEXT`` (default), ``SSL``, ``SASL_PLAINTEXT``, ``SASL_SSL``
``SSL_CA_FILE``        PEM bundle that signed the brokers' certificates (else the system's)
``SSL_CERT_FILE``      client certificate (mTLS), with ``SSL_KEY_FILE``
``SSL_KEY_PASSWORD``   password of an encrypted key (or ``_FILE``)
``SASL_MECHANISM``     ``PLAIN``, ``SCRAM-SHA-256`` or ``SCRAM-SHA-512``
``SASL_USERNAME``      SASL user
``SASL_PASSWORD``      SASL password (or ``SASL_PASSWORD_FILE``)
=====================  ==========================================================

Every name above is prefixed ``REGBRIDGE_KAFKA_``. A combination that cannot work (a
mechanism without a SASL protocol, a certificate without its key, ...) raises
:class:`~common.environ.ConfigError` naming the variable. Secrets never appear in ``repr``.
It imports no Kafka client at module level, so the contract layering stays as it is.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.environ import PREFIX, ConfigError, Environ

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_VAR = PREFIX + "KAFKA_"


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """TLS and SASL for one Kafka client; the default is plaintext without auth."""

    protocol: str = "PLAINTEXT"
    ssl_ca_file: Path | None = None
    ssl_cert_file: Path | None = None
    ssl_key_file: Path | None = None
    ssl_key_password: str = field(default="", repr=False)
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: str = field(default="", repr=False)

    @classmethod
    def from_environ(cls, env: Environ) -> KafkaSecurity:
        security = cls(
            protocol=env.text("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper(),
            ssl_ca_file=env.path("KAFKA_SSL_CA_FILE"),
            ssl_cert_file=env.path("KAFKA_SSL_CERT_FILE"),
            ssl_key_file=env.path("KAFKA_SSL_KEY_FILE"),
            ssl_key_password=env.secret("KAFKA_SSL_KEY_PASSWORD"),
            sasl_mechanism=env.text("KAFKA_SASL_MECHANISM").upper(),
            sasl_username=env.text("KAFKA_SASL_USERNAME"),
            sasl_password=env.secret("KAFKA_SASL_PASSWORD"),
        )
        security.check()
        if security.uses_tls:
            security.ssl_context()  # unreadable or mismatched files fail at start-up
        return security

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    def check(self) -> None:
        """Rules across variables; raises :class:`ConfigError` naming the variable."""
        if self.protocol not in PROTOCOLS:
            raise ConfigError(
                f"{_VAR}SECURITY_PROTOCOL={self.protocol!r} must be one of {', '.join(PROTOCOLS)}"
            )
        self._check_tls()
        self._check_sasl()

    def _check_tls(self) -> None:
        files = {"SSL_CA_FILE": self.ssl_ca_file, "SSL_CERT_FILE": self.ssl_cert_file}
        files["SSL_KEY_FILE"] = self.ssl_key_file
        if not self.uses_tls:
            for name, value in files.items():
                if value is not None:
                    raise self._unused(name, "SSL or SASL_SSL")
            return
        if (self.ssl_cert_file is None) != (self.ssl_key_file is None):
            raise ConfigError(
                f"{_VAR}SSL_CERT_FILE and {_VAR}SSL_KEY_FILE go together (mTLS): set both or neither"
            )
        for name, value in files.items():
            if value is not None and not value.is_file():
                raise ConfigError(f"{_VAR}{name}={str(value)!r} is not a readable file")

    def _check_sasl(self) -> None:
        if not self.uses_sasl:
            for name, value in (
                ("SASL_MECHANISM", self.sasl_mechanism),
                ("SASL_USERNAME", self.sasl_username),
            ):
                if value:
                    raise self._unused(name, "SASL_SSL or SASL_PLAINTEXT")
            return
        mechanism = self.sasl_mechanism
        if not mechanism:
            raise ConfigError(
                f"{_VAR}SASL_MECHANISM is required with {_VAR}SECURITY_PROTOCOL={self.protocol}"
            )
        if mechanism not in MECHANISMS:
            raise ConfigError(f"{_VAR}SASL_MECHANISM={mechanism!r} must be one of {', '.join(MECHANISMS)}")
        if not self.sasl_username:
            raise ConfigError(f"{_VAR}SASL_USERNAME is required with {_VAR}SASL_MECHANISM={mechanism}")
        if not self.sasl_password:
            password = f"{_VAR}SASL_PASSWORD (or {_VAR}SASL_PASSWORD_FILE)"
            raise ConfigError(f"{password} is required with {_VAR}SASL_MECHANISM={mechanism}")

    def _unused(self, name: str, protocols: str) -> ConfigError:
        return ConfigError(
            f"{_VAR}{name} is set but {_VAR}SECURITY_PROTOCOL={self.protocol}: use {protocols}"
        )

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the broker (hostname included) against the CA file or the system's CAs,
        and presents the client certificate when one is set."""
        from aiokafka.helpers import create_ssl_context

        try:
            context: ssl.SSLContext = create_ssl_context(
                cafile=self.ssl_ca_file,
                certfile=self.ssl_cert_file,
                keyfile=self.ssl_key_file,
                password=self.ssl_key_password or None,
            )
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"{_VAR}SSL_CA_FILE / {_VAR}SSL_CERT_FILE / {_VAR}SSL_KEY_FILE cannot be loaded: {exc}"
            ) from None
        return context

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaProducer`` and ``AIOKafkaConsumer``."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_tls:
            kwargs["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password
        return kwargs
