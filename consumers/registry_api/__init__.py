"""A client of a container registry's HTTP API (distribution's ``/v2/``, which Harbor, GitLab,
zot and the clouds' registries also serve): the catalog and tag lists with their
pagination, manifests by tag and by digest (checked against their digest), deletes, basic
auth and the Docker token flow, TLS with a CA file, a concurrency limit and a request-rate
limit, and retries on 429 and 5xx that honour ``Retry-After``.

=================  ===============================================================
``client``         :class:`RegistryClient`: the requests, their retries and errors
``settings``       :class:`RegistrySettings`: ``REGBRIDGE_REGISTRY_*``
``auth``           :class:`RegistryAuth`: basic auth and bearer tokens cached per scope
``transport``      the concurrency and rate limits, request counting
``manifests``      media types, digest checks, what a manifest holds
``pagination``     following ``Link`` headers safely
``errors``         the error tree (read its docstring)
=================  ===============================================================

Used by the reconcile (``consumers.reconcile``); written to serve any reader or writer
of the registry (a cleanup deletes through :meth:`RegistryClient.delete_manifest`).
"""

from consumers.registry_api.client import RegistryClient, checked_repository
from consumers.registry_api.errors import (
    AccessDenied,
    BadContent,
    BadPagination,
    CredentialsRefused,
    NotFound,
    RegistryError,
    RegistryUnreachable,
    TokenUnavailable,
    UnexpectedAnswer,
)
from consumers.registry_api.manifests import (
    ACCEPT,
    INDEX_TYPES,
    Descriptor,
    Manifest,
    ManifestContent,
    ManifestRef,
)
from consumers.registry_api.settings import RegistrySettings, parse_registry_url

__all__ = [
    "ACCEPT",
    "INDEX_TYPES",
    "AccessDenied",
    "BadContent",
    "BadPagination",
    "CredentialsRefused",
    "Descriptor",
    "Manifest",
    "ManifestContent",
    "ManifestRef",
    "NotFound",
    "RegistryClient",
    "RegistryError",
    "RegistrySettings",
    "RegistryUnreachable",
    "TokenUnavailable",
    "UnexpectedAnswer",
    "checked_repository",
    "parse_registry_url",
]
