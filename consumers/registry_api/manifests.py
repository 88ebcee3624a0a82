"""Manifests as the registry serves them: the media types asked for, digests checked
against the bytes, and the content read out of them (config and layers with sizes, an
index's children with their platforms, an OCI 1.1 artifact's type and subject).

Content addressed by digest never changes, so what :func:`parse_manifest` returns can be
kept for good. Docker schema 1 manifests (``…manifest.v1+prettyjws``, from registries
older than 2016) are signed over a payload that is not their body: their digest cannot be
checked from the bytes, so the registry's ``Docker-Content-Digest`` is taken as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from consumers.registry_api.errors import BadContent

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_V1 = "application/vnd.docker.distribution.manifest.v1+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
SCHEMA1_TYPES = (DOCKER_V1_SIGNED, DOCKER_V1)
ACCEPT = ", ".join(
    (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST, f"{DOCKER_V1_SIGNED};q=0.5", f"{DOCKER_V1};q=0.5")
)
"""Every manifest type, so that the registry never converts one (2.x turns schema 2 into
schema 1 for a client that does not list it)."""
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # distribution's own limit on a manifest
_HASHES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


@dataclass(frozen=True, slots=True)
class ManifestRef:
    """What a HEAD tells: the digest, the media type and the size of a manifest."""

    digest: str
    media_type: str | None
    size: int | None


@dataclass(frozen=True, slots=True)
class Descriptor:
    digest: str
    media_type: str | None
    size: int | None
    platform_os: str | None = None
    platform_architecture: str | None = None
    platform_variant: str | None = None


@dataclass(frozen=True, slots=True)
class ManifestContent:
    """``kind``: ``image`` (config and layers), ``index`` (children) or ``other``."""

    kind: str
    media_type: str | None
    config: Descriptor | None = None
    layers: tuple[Descriptor, ...] = ()
    children: tuple[Descriptor, ...] = ()
    artifact_type: str | None = None
    subject: str | None = None

    @property
    def blobs_size(self) -> int | None:
        """Config plus layers, None when a size is unknown (schema 1) or it is no image."""
        blobs = [self.config, *self.layers] if self.config else list(self.layers)
        if self.kind != "image" or any(b is None or b.size is None for b in blobs):
            return None
        return sum(b.size or 0 for b in blobs if b is not None)


@dataclass(frozen=True, slots=True)
class Manifest:
    ref: ManifestRef
    body: bytes
    content: ManifestContent


def digest_of(body: bytes, algorithm: str = "sha256") -> str:
    factory = _HASHES.get(algorithm)
    if factory is None:
        raise BadContent(f"digest algorithm {algorithm!r} is not one of {', '.join(_HASHES)}")
    return f"{algorithm}:{factory(body).hexdigest()}"


def check_digest(body: bytes, digest: str, media_type: str | None, where: str) -> None:
    """Raises :class:`BadContent` unless ``body`` hashes to ``digest`` (schema 1: see above)."""
    if media_type in SCHEMA1_TYPES:
        return
    algorithm, sep, _ = digest.partition(":")
    if not sep:
        raise BadContent(f"{where}: {digest!r} is not a digest")
    actual = digest_of(body, algorithm)
    if actual != digest:
        raise BadContent(f"{where}: the manifest's bytes hash to {actual}, not {digest}")


def _size(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, Mapping) or not _text(value.get("digest")):
        raise BadContent(f"{where}: a descriptor without a digest")
    platform = value.get("platform")
    platform = platform if isinstance(platform, Mapping) else {}
    return Descriptor(
        digest=str(value["digest"]),
        media_type=_text(value.get("mediaType")),
        size=_size(value.get("size")),
        platform_os=_text(platform.get("os")),
        platform_architecture=_text(platform.get("architecture")),
        platform_variant=_text(platform.get("variant")),
    )


def _list(body: Mapping[str, Any], key: str, where: str) -> tuple[Descriptor, ...]:
    items = body.get(key)
    if items is None:
        return ()
    if not isinstance(items, list):
        raise BadContent(f"{where}: {key} is not a list")
    return tuple(_descriptor(item, f"{where} {key}[{n}]") for n, item in enumerate(items))


def parse_manifest(body: bytes, media_type: str | None, where: str) -> ManifestContent:
    """The content of a manifest (``where`` names it in errors)."""
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadContent(f"{where}: the manifest is not JSON") from None
    if not isinstance(decoded, dict):
        raise BadContent(f"{where}: the manifest is not a JSON object")
    kind_type = media_type or _text(decoded.get("mediaType"))
    subject = decoded.get("subject")
    artifact_type = _text(decoded.get("artifactType"))
    subject_digest = _text(subject.get("digest")) if isinstance(subject, Mapping) else None
    config: Descriptor | None = None
    layers: tuple[Descriptor, ...] = ()
    children: tuple[Descriptor, ...] = ()
    if "manifests" in decoded or kind_type in INDEX_TYPES:
        kind, children = "index", _list(decoded, "manifests", where)
    elif "fsLayers" in decoded:  # schema 1: layers without sizes, newest first
        kind, layers = "image", _schema1_layers(decoded)
    elif "config" in decoded or "layers" in decoded:
        kind, layers = "image", _list(decoded, "layers", where)
        config = _descriptor(decoded["config"], f"{where} config") if "config" in decoded else None
    else:
        kind = "other"
    return ManifestContent(kind, kind_type, config, layers, children, artifact_type, subject_digest)


def _schema1_layers(decoded: Mapping[str, Any]) -> tuple[Descriptor, ...]:
    return tuple(
        Descriptor(str(layer["blobSum"]), None, None)
        for layer in reversed(decoded.get("fsLayers") or [])
        if isinstance(layer, Mapping) and _text(layer.get("blobSum"))
    )
