"""OCI images written in Python: deterministic, distinct per seed, and a well-formed layout."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

from devstack.ociimage import OCI_INDEX, REF_NAME, OciLayout, build_image, build_index, sha256_digest


def test_same_seed_same_digests_other_seed_other_digests() -> None:
    assert build_image("app", "s1").digest == build_image("app", "s1").digest
    assert build_image("app", "s1").digest != build_image("app", "s2").digest
    assert build_image("app", "s1", arch="arm64").digest != build_image("app", "s1").digest


def test_config_diff_ids_are_the_uncompressed_layers() -> None:
    image = build_image("app", "s1", layers=2)
    config = json.loads(image.config.data)
    tars = [gzip.decompress(layer.data) for layer in image.layers]
    assert config["rootfs"]["diff_ids"] == [sha256_digest(t) for t in tars]
    with tarfile.open(fileobj=io.BytesIO(tars[1])) as tar:
        assert tar.getnames() == ["app/layer1.txt"]


def test_layout_holds_images_and_an_index(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "layout")
    image, index = build_image("app", "s1"), build_index("multi", "s1")
    assert layout.add_image("app-1", image) == f"oci:{tmp_path / 'layout'}:app-1"
    layout.add_index("multi-1", index)
    top = json.loads((tmp_path / "layout" / "index.json").read_text())
    assert [(m["digest"], m["annotations"][REF_NAME]) for m in top["manifests"]] == [
        (image.digest, "app-1"),
        (index.digest, "multi-1"),
    ]
    body = json.loads(index.index.data)
    assert body["mediaType"] == OCI_INDEX
    assert [m["digest"] for m in body["manifests"]] == [i.digest for i in index.images]
    blobs = {p.name for p in (tmp_path / "layout" / "blobs" / "sha256").iterdir()}
    every = [
        image.manifest,
        *image.blobs,
        index.index,
        *(b for i in index.images for b in (i.manifest, *i.blobs)),
    ]
    assert blobs == {b.digest.removeprefix("sha256:") for b in every}
