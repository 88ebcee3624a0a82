"""Looking inside spool files, for operators: ``python -m bridge.spool.inspection PATH...``.

Each PATH is a segment, a quarantined file, or a spool directory (its segments and its
quarantine). One JSON line is printed per intact record found (seq, group position,
time, topic, key, headers, value) and per damaged span (offset, length, reason), so a
quarantined tail can be read, and any intact record in it republished by hand.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bridge.spool.frame import FrameError, decode_record, scan_segment
from bridge.spool.recovery import QUARANTINE, SEGMENT_SUFFIX


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", errors="replace")


def describe(path: Path) -> Iterator[dict[str, Any]]:
    """One dict per intact record and per damaged span of one file."""
    scan = scan_segment(path.read_bytes())
    for frame in scan.frames:
        line: dict[str, Any] = {"file": str(path), "offset": frame.offset, "seq": frame.seq}
        line["group"] = f"{frame.index + 1}/{frame.count}"
        line["appended_at"] = datetime.fromtimestamp(frame.ts_ms / 1000, UTC).isoformat()
        try:
            item = decode_record(frame.payload)
        except FrameError as exc:
            yield {**line, "error": str(exc)}
            continue
        headers = {name: _text(value) for name, value in item.headers}
        yield {**line, "topic": item.topic, "key": _text(item.key), "headers": headers,
               "value": _text(item.value)}  # fmt: skip
    for damage in scan.damage:
        yield {"file": str(path), "offset": damage.offset, "damaged_bytes": damage.end - damage.offset,
               "reason": damage.reason}  # fmt: skip


def files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    quarantined = sorted((path / QUARANTINE).glob("*")) if (path / QUARANTINE).is_dir() else []
    return sorted(path.glob("*" + SEGMENT_SUFFIX)) + quarantined


def main(argv: list[str] | None = None) -> int:
    paths = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    for path in paths:
        for found in files(path):
            for line in describe(found):
                sys.stdout.write(orjson.dumps(line).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
