"""A registry config for CNCF distribution (the Debian ``docker-registry``, 2.8.2), wired
to the bridge: what ``registry-bridge dev`` runs, and what the end-to-end tests build on.

:class:`Notifications` is the ``notifications`` section (the bridge's URL, the bearer token
and the retry settings, see ``docs/registry-setup.md``); :class:`RegistryConfig` is the
whole file: loopback address, debug server (the ``/debug/vars`` counters), filesystem
storage with deletes enabled, and htpasswd auth when an htpasswd path is given.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REGISTRY_BINARY = "docker-registry"
ENDPOINT_NAME = "bridge"


def registry_binary() -> str | None:
    """The path of ``docker-registry`` (Debian installs it in /usr/bin), or None."""
    found = shutil.which(REGISTRY_BINARY)
    if found:
        return found
    fallback = f"/usr/bin/{REGISTRY_BINARY}"
    return fallback if os.access(fallback, os.X_OK) else None


@dataclass(frozen=True)
class Notifications:
    """Where the registry sends its events, and how it retries."""

    url: str
    token: str
    name: str = ENDPOINT_NAME
    timeout: str = "1s"
    threshold: int = 10
    backoff: str = "1s"
    include_references: bool = True
    ignore: Mapping[str, list[str]] | None = None
    """The endpoint's ``ignore`` section: ``mediatypes`` and/or ``actions``."""

    def config(self) -> dict[str, Any]:
        endpoint: dict[str, Any] = {
            "name": self.name,
            "url": self.url,
            "headers": {"Authorization": [f"Bearer {self.token}"]},
            "timeout": self.timeout,
            "threshold": self.threshold,
            "backoff": self.backoff,
        }
        if self.ignore is not None:
            endpoint["ignore"] = {key: list(values) for key, values in self.ignore.items()}
        return {"events": {"includereferences": self.include_references}, "endpoints": [endpoint]}


def recommended(url: str, token: str, name: str) -> Notifications:
    """The endpoint ``docs/registry-setup.md`` recommends ("Choosing timeout, threshold and
    backoff"): a timeout well above the bridge's publish budget, a few immediate retries."""
    return Notifications(url, token, name=name, timeout="2s", threshold=3, backoff="2s")


def normal_log_line(line: str) -> bool:
    """False for what the registry logs at level=error on every push although nothing is
    wrong: the 404 ``blob unknown`` answers to a client asking whether a blob is already
    there (HEAD before upload). The demo leaves them out of its output."""
    return not ("level=error" in line and 'err.code="blob unknown"' in line)


@dataclass(frozen=True)
class RegistryConfig:
    """One registry's ``config.yml``. ``htpasswd``: the password file, or None for no auth."""

    addr: str
    debug_addr: str
    storage_dir: Path
    secret: str
    notifications: Notifications | None = None
    htpasswd: Path | None = None
    realm: str = "registry-kafka-bridge"
    log_level: str = "info"

    def as_dict(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": self.log_level, "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage_dir)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": self.addr, "secret": self.secret, "debug": {"addr": self.debug_addr}},
        }
        if self.htpasswd is not None:
            config["auth"] = {"htpasswd": {"realm": self.realm, "path": str(self.htpasswd)}}
        if self.notifications is not None:
            config["notifications"] = self.notifications.config()
        return config

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.as_dict(), sort_keys=False))
        return path
