"""Small, distinct OCI images, written as OCI image layouts in Python (no Docker, no umoci).

Writing the layout directly is deterministic (same seed, same digests), needs no
rootless-unpack tricks, and lets one layout hold both plain images and an OCI index.
``skopeo copy oci:<layout>:<ref> docker://...`` then pushes them to a real registry.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data), **extra}


@dataclass(frozen=True)
class BuiltImage:
    """One single-platform image: its manifest, config and layers."""

    manifest: Blob
    config: Blob
    layers: tuple[Blob, ...]

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def blobs(self) -> tuple[Blob, ...]:
        """Config and layers: what a push uploads besides the manifest."""
        return (self.config, *self.layers)


@dataclass(frozen=True)
class BuiltIndex:
    """An OCI image index over several single-platform images."""

    index: Blob
    images: tuple[BuiltImage, ...]

    @property
    def digest(self) -> str:
        return self.index.digest


def layer_from_files(files: dict[str, bytes]) -> tuple[Blob, str]:
    """A gzip tar layer with fixed mtimes and owners, and its diff id (digest of the tar)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode, info.uid, info.gid = len(files[name]), 0, 0o644, 0, 0
            tar.addfile(info, io.BytesIO(files[name]))
    tar_bytes = raw.getvalue()
    compressed = gzip.compress(tar_bytes, mtime=0)
    return Blob(OCI_LAYER_GZIP, compressed), sha256_digest(tar_bytes)


def build_image(name: str, seed: str, *, arch: str = "amd64", layers: int = 1) -> BuiltImage:
    """A distinct image: each layer holds a file whose content depends on ``seed``."""
    built = [
        layer_from_files({f"{name}/layer{i}.txt": f"{name} {seed} {arch} layer {i}\n".encode()})
        for i in range(layers)
    ]
    config = Blob(
        OCI_CONFIG,
        canonical_json(
            {
                "architecture": arch,
                "os": "linux",
                "config": {"Labels": {"test.name": name, "test.seed": seed}},
                "rootfs": {"type": "layers", "diff_ids": [diff for _, diff in built]},
            }
        ),
    )
    manifest = Blob(
        OCI_MANIFEST,
        canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": config.descriptor(),
                "layers": [layer.descriptor() for layer, _ in built],
            }
        ),
    )
    return BuiltImage(manifest, config, tuple(layer for layer, _ in built))


def build_index(name: str, seed: str, arches: tuple[str, ...] = ("amd64", "arm64")) -> BuiltIndex:
    images = tuple(build_image(name, seed, arch=arch) for arch in arches)
    index = Blob(
        OCI_INDEX,
        canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    image.manifest.descriptor(platform={"architecture": arch, "os": "linux"})
                    for image, arch in zip(images, arches, strict=True)
                ],
            }
        ),
    )
    return BuiltIndex(index, images)


class OciLayout:
    """An OCI image layout directory (``oci-layout``, ``index.json``, ``blobs/sha256``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._refs: list[dict[str, Any]] = []
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        self._write_index()

    def _write_blob(self, blob: Blob) -> None:
        target = self.path / "blobs" / "sha256" / blob.digest.removeprefix("sha256:")
        if not target.exists():
            target.write_bytes(blob.data)

    def _write_index(self) -> None:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self._refs}
        (self.path / "index.json").write_text(json.dumps(index, indent=2))

    def add_image(self, ref: str, image: BuiltImage) -> str:
        """Store ``image`` under ``ref``; returns the ``oci:`` source for skopeo."""
        for blob in (*image.blobs, image.manifest):
            self._write_blob(blob)
        self._refs.append(image.manifest.descriptor(annotations={REF_NAME: ref}))
        self._write_index()
        return self.source(ref)

    def add_index(self, ref: str, built: BuiltIndex) -> str:
        for image in built.images:
            for blob in (*image.blobs, image.manifest):
                self._write_blob(blob)
        self._write_blob(built.index)
        self._refs.append(built.index.descriptor(annotations={REF_NAME: ref}))
        self._write_index()
        return self.source(ref)

    def source(self, ref: str) -> str:
        return f"oci:{self.path}:{ref}"


DEMO_REF = "hello"


def write_demo_layout(path: Path, ref: str = DEMO_REF) -> str:
    """A one-image OCI layout at ``path`` (the sample ``registry-bridge dev`` tells you to push);
    returns the ``oci:`` source for ``skopeo copy``. The same every time: same digests."""
    return OciLayout(path.resolve()).add_image(ref, build_image("hello", "registry-kafka-bridge demo"))
