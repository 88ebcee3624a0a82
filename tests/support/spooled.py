"""Records for spool tests, and reading a spool back whole."""

from __future__ import annotations

from bridge.spool.journal import Spool
from common.contract import OutgoingRecord


def record(n: int, repo: str = "library/alpine", size: int = 0) -> OutgoingRecord:
    """A record shaped like the bridge's: keyed by repository, event id in a header."""
    value = b'{"id":"ev-%d","action":"push","target":{"repository":"%s"}}' % (n, repo.encode())
    return OutgoingRecord(
        topic="t.registry.events.push",
        key=repo.encode(),
        value=value + b" " * size,
        headers=[("event-id", f"ev-{n}".encode()), ("action", b"push"), ("ce_subject", repo.encode())],
    )


def event_id(item: OutgoingRecord) -> str:
    return dict(item.headers)["event-id"].decode()


def unacked(spool: Spool) -> list[OutgoingRecord]:
    """Every unacknowledged record, in order, without acknowledging any."""
    return [item.record for item in spool.peek(max_records=1_000_000, max_bytes=1 << 40)]
