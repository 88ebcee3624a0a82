"""Images that share layers, built like :mod:`devstack.ociimage` builds its own, and their
sizes as a registry stores them (the manifest's bytes, the config's, each layer's)."""

from __future__ import annotations

from devstack.ociimage import OCI_CONFIG, OCI_MANIFEST, Blob, BuiltImage, canonical_json, layer_from_files


def layer(text: str) -> Blob:
    return layer_from_files({"file.txt": text.encode()})[0]


def image_with(name: str, *layers: Blob) -> BuiltImage:
    """An image of exactly these layers (the config names the image, so each is distinct)."""
    config = Blob(OCI_CONFIG, canonical_json({"architecture": "amd64", "os": "linux", "name": name}))
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [blob.descriptor() for blob in layers],
    }
    return BuiltImage(Blob(OCI_MANIFEST, canonical_json(body)), config, tuple(layers))


def stored(*blobs: Blob) -> int:
    """Bytes of these blobs, each digest counted once."""
    return sum(len(blob.data) for blob in {blob.digest: blob for blob in blobs}.values())


def everything(image: BuiltImage) -> tuple[Blob, ...]:
    return (image.manifest, *image.blobs)
