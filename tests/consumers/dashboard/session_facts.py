"""What the dashboard must show for the real registry 2.8.2 session, worked out from the
fixture's raw events with plain rules (never with the dashboard's or the consumers' code).

The rules follow the registry's semantics (docs/dashboard.md): a pull counts once per
event id; bytes are the sizes of GETs; a push counts once per event id too (charts and
totals), with its target size as bytes pushed. The list of recent pushes is read back
from the inventory, so there a tag shows once at its latest push and drops out when a
tag delete removed it, and a blob shows at its first upload to a repository; deletes
and mounts are audited.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

BLOB = "application/octet-stream"


@dataclass(frozen=True)
class Ev:
    id: str
    action: str
    repository: str
    tag: str | None
    digest: str | None
    media_type: str | None
    size: int | None
    time: datetime
    method: str | None
    actor: str | None
    addr: str | None
    useragent: str | None

    @property
    def is_blob(self) -> bool:
        return self.media_type == BLOB

    @property
    def minute(self) -> datetime:
        return self.time.replace(second=0, microsecond=0)


def _time(text: str) -> datetime:
    whole, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}").replace(tzinfo=UTC)


def _ev(raw: dict[str, Any]) -> Ev:
    target, request = raw["target"], raw.get("request", {})
    addr = request.get("addr") or None
    return Ev(
        id=raw["id"],
        action=raw["action"],
        repository=target["repository"],
        tag=target.get("tag") or None,
        digest=target.get("digest") or None,
        media_type=target.get("mediaType") or None,
        size=target.get("size") or None,
        time=_time(raw["timestamp"]),
        method=request.get("method"),
        actor=raw.get("actor", {}).get("name") or None,
        addr=addr.rsplit(":", 1)[0] if addr and addr.count(":") == 1 else addr,
        useragent=request.get("useragent") or None,
    )


def unique_events(session: Iterable[dict[str, Any]]) -> list[Ev]:
    """Every event of every POST once (registry retries resend the same id)."""
    seen: dict[str, Ev] = {}
    for post in session:
        for raw in json.loads(post["body"])["events"]:
            seen.setdefault(raw["id"], _ev(raw))
    return sorted(seen.values(), key=lambda e: e.time)


def pulls(events: list[Ev]) -> list[Ev]:
    return [e for e in events if e.action == "pull"]


def pull_counters(events: Iterable[Ev]) -> dict[str, int]:
    found = Counter[str]()
    for e in events:
        kind = ("blob_" if e.is_blob else "manifest_") + ("heads" if e.method == "HEAD" else "gets")
        found[kind] += 1
        found["requests"] += 1
        found["bytes"] += (e.size or 0) if e.method == "GET" else 0
    return {
        k: found[k]
        for k in ("manifest_gets", "manifest_heads", "blob_gets", "blob_heads", "bytes", "requests")
    }


def push_events(events: list[Ev]) -> list[Ev]:
    """Every push event (once per id): what the load chart and the totals count."""
    return [e for e in events if e.action == "push"]


def listed_pushes(events: list[Ev]) -> list[Ev]:
    """The pushes the inventory still remembers, as recent activity lists them (see the
    module docstring)."""
    tag_deletes = {(e.repository, e.tag): e.time for e in events if e.action == "delete" and e.tag}
    latest_tag: dict[tuple[str, str], Ev] = {}
    first_blob: dict[tuple[str, str], Ev] = {}
    tagged_digests = set()
    for e in (e for e in events if e.action == "push"):
        if e.is_blob:
            first_blob.setdefault((e.repository, e.digest or ""), e)
        elif e.tag:
            latest_tag[(e.repository, e.tag)] = e
            tagged_digests.add((e.repository, e.digest))
    kept = [e for key, e in latest_tag.items() if not (key in tag_deletes and tag_deletes[key] >= e.time)]
    by_digest = [
        e
        for e in events
        if e.action == "push"
        and not e.is_blob
        and not e.tag
        and (e.repository, e.digest) not in tagged_digests
    ]
    return sorted([*kept, *by_digest, *first_blob.values()], key=lambda e: e.time)


def audited(events: list[Ev]) -> list[Ev]:
    return [e for e in events if e.action not in ("push", "pull")]


def per_minute(events: Iterable[Ev]) -> Counter[datetime]:
    return Counter(e.minute for e in events)


def top_clients(events: list[Ev]) -> Counter[tuple[str | None, str | None, str | None]]:
    return Counter((e.actor, e.addr, e.useragent) for e in pulls(events))


def live_tags(events: list[Ev]) -> dict[str, set[str]]:
    """Tags pushed and not deleted since (by a tag delete or by deleting their manifest)."""
    pointing: dict[tuple[str, str], str | None] = {}
    for e in events:
        if e.action == "push" and e.tag:
            pointing[(e.repository, e.tag)] = e.digest
        elif e.action == "delete" and e.tag:
            pointing.pop((e.repository, e.tag), None)
        elif e.action == "delete" and e.digest:
            for key in [k for k, d in pointing.items() if k[0] == e.repository and d == e.digest]:
                pointing.pop(key)
    found: dict[str, set[str]] = {}
    for repository, tag in pointing:
        found.setdefault(repository, set()).add(tag)
    return found


def stored_bytes(events: list[Ev]) -> dict[str, int]:
    """Per repository: live blobs (pushed or mounted) plus live manifests, each once."""
    live: dict[tuple[str, str], int] = {}
    for e in events:
        key = (e.repository, e.digest or "")
        if e.action in ("push", "mount"):
            live[key] = e.size or 0
        elif e.action == "delete" and e.digest:
            live.pop(key, None)
    found = Counter[str]()
    for (repository, _), size in live.items():
        found[repository] += size
    return dict(found)
