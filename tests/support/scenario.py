"""Drive a real registry the way users do, and remember exactly what was done.

* :class:`Skopeo` pushes OCI layouts and copies across repositories (``skopeo copy``).
* :class:`RegistryClient` pulls by tag and by digest, HEADs, reads blobs, deletes by digest
  and reads the catalog, over plain HTTP with basic auth (httpx).
* :func:`run_scenario` does a fixed, varied session (several images and tags, an OCI
  index, pulls, a cross-repository copy that mounts, deletes) and returns a
  :class:`ScenarioResult` that an end-to-end test compares with what the pipeline stored.

Each role is a different registry user, so the ``actor`` of every event says who did it:
``alice`` pushes, ``bob`` only pulls (so bob's pull events are exactly the pulls listed
here), ``carol`` copies and deletes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.ociimage import (
    OCI_INDEX,
    OCI_MANIFEST,
    BuiltImage,
    OciLayout,
    build_image,
    build_index,
    sha256_digest,
)
from tests.support.registry import LocalRegistry

USER_AGENT = "regbridge-e2e/1.0"
MANIFEST_ACCEPT = ", ".join(
    (
        OCI_MANIFEST,
        OCI_INDEX,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )
)
PUSHER, PULLER, OPERATOR = "alice", "bob", "carol"


class ScenarioError(RuntimeError):
    """A registry operation did not do what it should (bad status, missing tool)."""


@dataclass(frozen=True, order=True)
class Pushed:
    """A manifest (or index) the scenario pushed; ``tag`` is None for index children."""

    repository: str
    digest: str
    tag: str | None
    media_type: str
    actor: str


@dataclass(frozen=True, order=True)
class Pull:
    """One pull request: ``kind`` is ``manifest`` or ``blob``, ``method`` GET or HEAD."""

    repository: str
    reference: str
    method: str
    kind: str


@dataclass(frozen=True, order=True)
class Deleted:
    repository: str
    digest: str
    tags: tuple[str, ...]
    actor: str


@dataclass(frozen=True, order=True)
class Mounted:
    """A blob the registry must have mounted from ``from_repository`` into ``repository``."""

    from_repository: str
    repository: str
    digest: str
    actor: str


@dataclass
class ScenarioResult:
    """What the scenario did, and the registry's own view at the end."""

    registry: str
    pushed: list[Pushed] = field(default_factory=list)
    pulls: Counter[Pull] = field(default_factory=Counter)
    deleted: list[Deleted] = field(default_factory=list)
    mounted: list[Mounted] = field(default_factory=list)
    catalog: dict[str, list[str]] = field(default_factory=dict)
    """Repository → sorted tags, read from ``/v2/_catalog`` and ``/tags/list`` at the end."""
    tag_digests: dict[tuple[str, str], str] = field(default_factory=dict)
    """(repository, tag) → manifest digest, for the tags that still exist at the end."""

    @property
    def repositories(self) -> list[str]:
        return sorted(self.catalog)

    def pulls_by_reference(self) -> Counter[tuple[str, str]]:
        """(repository, reference) → number of pull requests (GET and HEAD, manifests and blobs)."""
        counts: Counter[tuple[str, str]] = Counter()
        for pull, n in self.pulls.items():
            counts[(pull.repository, pull.reference)] += n
        return counts


def require_tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if not found:
        raise ScenarioError(f"{name} is not installed: run `make debian-deps` (apt-get install {package})")
    return found


class Skopeo:
    """``skopeo copy`` against a plain-HTTP registry with basic-auth credentials."""

    def __init__(self, registry: LocalRegistry, workdir: Path) -> None:
        self.binary = require_tool("skopeo", "skopeo")
        self.registry = registry
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)

    def _creds(self, user: str) -> str:
        name, password = self.registry.credentials(user)
        return f"{name}:{password}"

    def copy(
        self,
        source: str,
        repository: str,
        tag: str,
        *,
        user: str,
        all_images: bool = False,
        source_user: str | None = None,
    ) -> str:
        """Copy ``source`` to ``<registry>/<repository>:<tag>``; returns the pushed manifest digest."""
        with tempfile.NamedTemporaryFile(dir=self.workdir, suffix=".digest", delete=False) as handle:
            digest_file = Path(handle.name)
        command = [
            self.binary,
            "--insecure-policy",
            "copy",
            "--quiet",
            "--retry-times",
            "0",
            "--dest-tls-verify=false",
            "--dest-creds",
            self._creds(user),
            "--digestfile",
            str(digest_file),
        ]
        if all_images:
            command.append("--all")
        if source_user:
            command += ["--src-tls-verify=false", "--src-creds", self._creds(source_user)]
        command += [source, f"docker://{self.registry.address}/{repository}:{tag}"]
        env = {**os.environ, "TMPDIR": str(self.workdir)}
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)
        if done.returncode != 0:
            raise ScenarioError(f"skopeo copy {source} -> {repository}:{tag} failed: {done.stderr.strip()}")
        digest = digest_file.read_text().strip()
        digest_file.unlink()
        return digest

    def docker_source(self, repository: str, tag: str) -> str:
        return f"docker://{self.registry.address}/{repository}:{tag}"


class RegistryClient:
    """Plain HTTP calls to the registry API as one user."""

    def __init__(self, registry: LocalRegistry, user: str) -> None:
        self.user = user
        self._client = httpx.Client(
            base_url=registry.url,
            auth=registry.credentials(user),
            headers={"User-Agent": USER_AGENT},
            timeout=30.0,
        )

    def close(self) -> None:
        self._client.close()

    def _expect(self, response: httpx.Response, *statuses: int) -> httpx.Response:
        if response.status_code not in statuses:
            raise ScenarioError(
                f"{response.request.method} {response.request.url} -> {response.status_code}: "
                f"{response.text[:300]}"
            )
        return response

    def manifest(self, repository: str, reference: str, *, method: str = "GET") -> httpx.Response:
        response = self._client.request(
            method, f"/v2/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT}
        )
        return self._expect(response, 200)

    def blob(self, repository: str, digest: str, *, method: str = "GET") -> httpx.Response:
        return self._expect(self._client.request(method, f"/v2/{repository}/blobs/{digest}"), 200)

    def push_blob(self, repository: str, data: bytes) -> str:
        """A monolithic two-step blob upload (POST, then PUT with the digest); returns the digest."""
        started = self._expect(self._client.post(f"/v2/{repository}/blobs/uploads/"), 202)
        digest = sha256_digest(data)
        # the Location keeps the upload state in its query: add the digest, do not replace it
        location = httpx.URL(started.headers["Location"]).copy_add_param("digest", digest)
        self._expect(self._client.put(location, content=data), 201)
        return digest

    def delete_manifest(self, repository: str, digest: str) -> None:
        self._expect(self._client.delete(f"/v2/{repository}/manifests/{digest}"), 202)

    def catalog(self) -> list[str]:
        body = self._expect(self._client.get("/v2/_catalog", params={"n": 1000}), 200).json()
        return sorted(body.get("repositories") or [])

    def tags(self, repository: str) -> list[str]:
        response = self._expect(self._client.get(f"/v2/{repository}/tags/list"), 200, 404)
        if response.status_code == 404:
            return []
        return sorted(response.json().get("tags") or [])


class ScenarioRun:
    """The steps of :func:`run_scenario`, each recording what it did in ``result``."""

    def __init__(self, registry: LocalRegistry, workdir: Path) -> None:
        self.registry = registry
        self.layout = OciLayout(workdir / "layout")
        self.skopeo = Skopeo(registry, workdir / "skopeo")
        self.result = ScenarioResult(registry=registry.address)
        self._refs: set[str] = set()

    def push_image(self, repository: str, tag: str, image: BuiltImage, ref: str) -> str:
        source = self.layout.source(ref) if ref in self._refs else self.layout.add_image(ref, image)
        self._refs.add(ref)
        digest = self.skopeo.copy(source, repository, tag, user=PUSHER)
        if digest != image.digest:
            raise ScenarioError(f"{repository}:{tag} was pushed as {digest}, built as {image.digest}")
        self.result.pushed.append(Pushed(repository, digest, tag, OCI_MANIFEST, PUSHER))
        return digest

    def pull(self, client: RegistryClient, repository: str, reference: str, method: str = "GET") -> str:
        response = client.manifest(repository, reference, method=method)
        self.result.pulls[Pull(repository, reference, method, "manifest")] += 1
        return response.headers["Docker-Content-Digest"]

    def pull_blob(self, client: RegistryClient, repository: str, digest: str) -> None:
        client.blob(repository, digest)
        self.result.pulls[Pull(repository, digest, "GET", "blob")] += 1


def run_scenario(registry: LocalRegistry, workdir: Path, salt: str | None = None) -> ScenarioResult:
    """Push, pull, copy and delete on ``registry``; see the module docstring for the roles.

    ``salt`` goes into every image, so each run pushes digests never seen before (random by
    default). skopeo remembers where it saw each blob in a machine-wide cache, keyed by
    registry address; fresh digests keep an earlier run on a reused port from steering its
    mount attempts.
    """
    salt = salt if salt is not None else os.urandom(6).hex()
    run = ScenarioRun(registry, workdir)
    result = run.result
    alpha1, alpha2 = build_image("alpha", f"v1-{salt}", layers=2), build_image("alpha", f"v2-{salt}")
    beta = build_image("beta", f"v1-{salt}")
    multi = build_index("multi", f"v1-{salt}")

    # alice pushes: two tags on one image, a second image, another repository, an OCI index.
    run.push_image("team/alpha", "1.0", alpha1, "alpha-1")
    run.push_image("team/alpha", "latest", alpha1, "alpha-1")
    run.push_image("team/alpha", "2.0", alpha2, "alpha-2")
    run.push_image("team/beta", "1.0", beta, "beta-1")
    index_digest = run.skopeo.copy(
        run.layout.add_index("multi-1", multi), "team/multi", "1.0", user=PUSHER, all_images=True
    )
    if index_digest != multi.digest:
        raise ScenarioError(f"the OCI index was pushed as {index_digest}, built as {multi.digest}")
    result.pushed += [Pushed("team/multi", i.digest, None, OCI_MANIFEST, PUSHER) for i in multi.images]
    result.pushed.append(Pushed("team/multi", multi.digest, "1.0", OCI_INDEX, PUSHER))

    # carol copies alpha:1.0 into a new repository of the same registry. skopeo mounts the
    # layers (cross-repository mount) and uploads the config again, so only layers mount.
    gamma_digest = run.skopeo.copy(
        run.skopeo.docker_source("team/alpha", "1.0"),
        "team/gamma",
        "1.0",
        user=OPERATOR,
        source_user=OPERATOR,
    )
    result.pushed.append(Pushed("team/gamma", gamma_digest, "1.0", OCI_MANIFEST, OPERATOR))
    result.mounted += [Mounted("team/alpha", "team/gamma", b.digest, OPERATOR) for b in alpha1.layers]

    # bob pulls: by tag (twice), HEAD by tag, by digest, blobs, the index and one child.
    puller = RegistryClient(registry, PULLER)
    try:
        run.pull(puller, "team/alpha", "1.0")
        run.pull(puller, "team/alpha", "1.0")
        run.pull(puller, "team/alpha", "latest", method="HEAD")
        run.pull(puller, "team/alpha", alpha2.digest)
        run.pull(puller, "team/beta", "1.0")
        for blob in beta.blobs:
            run.pull_blob(puller, "team/beta", blob.digest)
        run.pull(puller, "team/multi", "1.0")
        run.pull(puller, "team/multi", multi.images[0].digest)
    finally:
        puller.close()

    # carol deletes by digest: alpha:2.0 (its only tag goes with it) and the gamma copy.
    operator = RegistryClient(registry, OPERATOR)
    try:
        operator.delete_manifest("team/alpha", alpha2.digest)
        result.deleted.append(Deleted("team/alpha", alpha2.digest, ("2.0",), OPERATOR))
        operator.delete_manifest("team/gamma", gamma_digest)
        result.deleted.append(Deleted("team/gamma", gamma_digest, ("1.0",), OPERATOR))
        for repository in operator.catalog():
            result.catalog[repository] = operator.tags(repository)
    finally:
        operator.close()
    result.tag_digests = expected_tags(result)
    return result


def expected_tags(result: ScenarioResult) -> dict[tuple[str, str], str]:
    """(repository, tag) → digest left after the pushes and deletes (no extra pulls to read it)."""
    tags = {(p.repository, p.tag): p.digest for p in result.pushed if p.tag}
    for deleted in result.deleted:
        for tag in deleted.tags:
            tags.pop((deleted.repository, tag), None)
    return tags
