"""Pushing images straight through the registry's API (no skopeo): fast enough to fill a
registry with a thousand repositories, and exact about what it pushed.

:class:`ApiPusher` uploads blobs (monolithic POST then PUT), mounts them from another
repository, and puts manifests by tag or by digest; images come from
:mod:`devstack.ociimage`. It is async (one ``httpx.AsyncClient``) so a benchmark can push
many repositories at once; :func:`push_sync` runs one coroutine for sync tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from devstack.ociimage import Blob, BuiltImage, BuiltIndex

T = TypeVar("T")


class PushFailed(RuntimeError):
    pass


def push_sync(coroutine: Awaitable[T]) -> T:
    async def run() -> T:
        return await coroutine

    return asyncio.run(run())


@dataclass
class ApiPusher:
    url: str
    auth: tuple[str, str] | None = None
    concurrency: int = 8

    def client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        return httpx.AsyncClient(base_url=self.url, auth=self.auth, timeout=60.0, limits=limits)

    @staticmethod
    def _expect(response: httpx.Response, *statuses: int) -> httpx.Response:
        if response.status_code not in statuses:
            where = f"{response.request.method} {response.request.url.path}"
            raise PushFailed(f"{where}: {response.status_code} {response.text[:200]}")
        return response

    async def blob(self, client: httpx.AsyncClient, repository: str, blob: Blob) -> None:
        started = self._expect(await client.post(f"/v2/{repository}/blobs/uploads/"), 202)
        location = httpx.URL(started.headers["Location"]).copy_add_param("digest", blob.digest)
        self._expect(await client.put(location, content=blob.data), 201)

    async def mount(self, client: httpx.AsyncClient, repository: str, source: str, blob: Blob) -> None:
        params: dict[str, Any] = {"mount": blob.digest, "from": source}
        answer = await client.post(f"/v2/{repository}/blobs/uploads/", params=params)
        if answer.status_code == 202:  # not mountable: the registry started an upload instead
            location = httpx.URL(answer.headers["Location"]).copy_add_param("digest", blob.digest)
            self._expect(await client.put(location, content=blob.data), 201)
            return
        self._expect(answer, 201)

    async def manifest(
        self, client: httpx.AsyncClient, repository: str, reference: str, manifest: Blob
    ) -> str:
        headers = {"Content-Type": manifest.media_type}
        answer = self._expect(
            await client.put(
                f"/v2/{repository}/manifests/{reference}", content=manifest.data, headers=headers
            ),
            201,
        )
        return str(answer.headers.get("Docker-Content-Digest", manifest.digest))

    async def image(
        self, client: httpx.AsyncClient, repository: str, tag: str | None, image: BuiltImage
    ) -> str:
        for blob in image.blobs:
            await self.blob(client, repository, blob)
        return await self.manifest(client, repository, tag or image.digest, image.manifest)

    async def index(self, client: httpx.AsyncClient, repository: str, tag: str, built: BuiltIndex) -> str:
        for image in built.images:
            await self.image(client, repository, None, image)
        return await self.manifest(client, repository, tag, built.index)

    async def delete(self, client: httpx.AsyncClient, repository: str, digest: str) -> None:
        self._expect(await client.delete(f"/v2/{repository}/manifests/{digest}"), 202)
