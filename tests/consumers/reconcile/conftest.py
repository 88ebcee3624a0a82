"""A real registry (docker-registry 2.8.2, htpasswd, no notifications) filled once per module
through its API, for the reconcile tests; the store and the topics are fresh per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.ociimage import BuiltImage, BuiltIndex, build_image, build_index
from tests.support.pusher import ApiPusher, push_sync
from tests.support.registry import LocalRegistry

PUSHER = ("alice", "alice-pw")
READER = ("bob", "bob-pw")


@dataclass(frozen=True)
class Filled:
    registry: LocalRegistry
    images: dict[str, BuiltImage]
    index: BuiltIndex

    @property
    def url(self) -> str:
        return self.registry.url


async def fill(url: str, images: dict[str, BuiltImage], index: BuiltIndex) -> None:
    pusher = ApiPusher(url, PUSHER)
    async with pusher.client() as client:
        await pusher.image(client, "team/alpha", "1.0", images["a"])
        await pusher.image(client, "team/alpha", "latest", images["a"])
        await pusher.image(client, "team/alpha", "2.0", images["b"])
        await pusher.image(client, "team/beta", "1.0", images["c"])
        await pusher.index(client, "team/multi", "1.0", index)
        await pusher.image(client, "team/forbidden", "1.0", images["d"])
        await pusher.image(client, "team/corrupt", "1.0", images["e"])


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    workdir: Path = tmp_path_factory.mktemp("filled-registry")
    images = {name: build_image(name, f"reconcile-{name}") for name in "abcde"}
    index = build_index("multi", "reconcile")
    with LocalRegistry(workdir, users=dict([PUSHER, READER])) as registry:
        push_sync(fill(registry.url, images, index))
        yield Filled(registry, images, index)
