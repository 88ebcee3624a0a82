"""What the registry API client raises. Callers catch at the level they care about::

    RegistryError                 anything the client raises about the registry
    ├── RegistryUnreachable       no usable answer after the retries: refused connections,
    │   │                         timeouts, 429 and 5xx answers
    │   └── TokenUnavailable      the token server (``WWW-Authenticate: Bearer realm=…``)
    │                             did not answer usefully (retried like the registry)
    ├── CredentialsRefused        401 with the configured credentials (or with none when the
    │                             registry wants some), or the token server refused them
    ├── AccessDenied              403, or a token without the scope asked for
    │                             (``insufficient_scope``); ``repository`` names which
    ├── NotFound                  404: no such repository, tag or digest
    ├── BadContent                a manifest whose bytes do not hash to its digest, one
    │                             that is not a manifest, or an answer that is not JSON
    ├── BadPagination             a ``Link`` to another host or endpoint, a page that goes
    │                             backwards or repeats, an ``n`` the registry refuses
    └── UnexpectedAnswer          any other status (``status``), e.g. 405 when deletes are
                                  disabled

Messages name the request (method and path, never credentials) and the registry's own
error code when it sent one.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base of the registry API client's errors."""


class RegistryUnreachable(RegistryError):
    """No usable answer after the retries (connection, timeout, 429, 5xx)."""


class TokenUnavailable(RegistryUnreachable):
    """The token server did not answer usefully; retried like the registry itself."""


class CredentialsRefused(RegistryError):
    """The registry or its token server refused the credentials (or wants some)."""


class AccessDenied(RegistryError):
    """The credentials are valid but may not read this (403, ``insufficient_scope``)."""

    def __init__(self, message: str, repository: str | None = None) -> None:
        super().__init__(message)
        self.repository = repository


class NotFound(RegistryError):
    """404: no such repository, tag or digest."""


class BadContent(RegistryError):
    """A manifest that does not match its digest or is not a manifest; an answer that is
    not the JSON the API promises."""


class BadPagination(RegistryError):
    """The registry's pagination cannot be followed safely."""


class UnexpectedAnswer(RegistryError):
    """Any other status; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
