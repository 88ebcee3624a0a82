"""Durable file operations of the spool, and its recovery when it is opened.

Files in the spool directory::

    <first-seq, 20 digits>.seg   segments, oldest first; frames as in ``bridge.spool.frame``
    checkpoint                   the highest acknowledged sequence (magic, u64, crc32)
    quarantine/                  damaged bytes moved aside by recovery, never read back

Recovery (:func:`recover`) reads every segment, keeps each intact frame, and moves every
damaged span to ``quarantine/`` before rewriting the segment without it. The trailing
records of the newest segment that do not close their group are a torn append (the
append never returned, so the registry never got its 200): they are quarantined too, so
that a group stays all-or-nothing. Damage elsewhere is not a torn write but a damaged
disk: the intact records around it are kept, even when that splits a group, because
they were acknowledged to the registry. Segments that hold nothing unacknowledged are
deleted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from bridge.spool.frame import Damage, Frame, Scan, scan_segment

log = logging.getLogger("bridge.spool")

SEGMENT_SUFFIX = ".seg"
CHECKPOINT = "checkpoint"
QUARANTINE = "quarantine"
_CHECKPOINT = struct.Struct("<4sQI")
_CHECKPOINT_MAGIC = b"RKC1"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: temp file, fsync, rename, fsync dir."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SEGMENT_SUFFIX}"


def write_checkpoint(directory: Path, acked: int) -> None:
    body = _CHECKPOINT_MAGIC + struct.pack("<Q", acked)
    write_durably(directory / CHECKPOINT, body + struct.pack("<I", zlib.crc32(body)))


def read_checkpoint(directory: Path) -> tuple[int, str | None]:
    """The acknowledged sequence, and a problem to report when the file is damaged
    (then 0: everything still on disk is replayed, never skipped)."""
    try:
        data = (directory / CHECKPOINT).read_bytes()
    except FileNotFoundError:
        return 0, None
    if len(data) == _CHECKPOINT.size:
        magic, acked, crc = _CHECKPOINT.unpack(data)
        if magic == _CHECKPOINT_MAGIC and zlib.crc32(data[:12]) == crc:
            return int(acked), None
    return 0, f"checkpoint file is damaged ({len(data)} bytes); replaying every spooled record"


@dataclass(frozen=True, slots=True)
class Quarantined:
    """Damaged bytes moved out of a segment into ``file``."""

    segment: str
    offset: int
    length: int
    reason: str
    file: Path


@dataclass(slots=True)
class RecoveredSegment:
    path: Path
    first_seq: int
    frames: list[Frame]
    size: int


@dataclass(slots=True)
class RecoveryReport:
    """What :func:`recover` found; ``ok`` when nothing was damaged."""

    records: int = 0
    acked: int = 0
    last_seq: int = 0
    segments: int = 0
    deleted_segments: int = 0
    quarantined: list[Quarantined] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.quarantined and not self.problems


def _torn_tail(scan: Scan, size: int) -> None:
    """Move the trailing frames that do not close their group into the damage list."""
    cut = len(scan.frames)
    while cut and not scan.frames[cut - 1].closes_group:
        cut -= 1
    if cut == len(scan.frames):
        return
    start = scan.frames[cut].offset
    del scan.frames[cut:]
    scan.damage[:] = [d for d in scan.damage if d.end <= start]
    scan.damage.append(Damage(start, size, "torn append: the last group is incomplete"))


def _quarantine(path: Path, data: bytes, damage: Damage, report: RecoveryReport) -> None:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.parent / QUARANTINE / f"{path.stem}.{damage.offset}-{damage.end}.{stamp}.damaged"
    write_durably(target, data[damage.offset : damage.end])
    item = Quarantined(path.name, damage.offset, damage.end - damage.offset, damage.reason, target)
    report.quarantined.append(item)
    log.error(
        "spool damage quarantined",
        extra={"fields": {"segment": item.segment, "offset": item.offset, "bytes": item.length,
                          "reason": item.reason, "file": str(item.file)}},
    )  # fmt: skip


def _repair(path: Path, data: bytes, scan: Scan, report: RecoveryReport) -> Scan:
    for damage in scan.damage:
        _quarantine(path, data, damage, report)
    intact = b"".join(data[f.offset : f.end] for f in scan.frames)
    write_durably(path, intact)
    return scan_segment(intact)


def _load(path: Path, after_seq: int, newest: bool, report: RecoveryReport) -> RecoveredSegment:
    data = path.read_bytes()
    scan = scan_segment(data, after_seq)
    if newest:
        _torn_tail(scan, len(data))
    if scan.damage:
        scan = _repair(path, data, scan, report)
    size = sum(f.size for f in scan.frames)
    return RecoveredSegment(path, int(path.stem), scan.frames, size)


def _segment_paths(directory: Path) -> list[Path]:
    for leftover in directory.glob("*.tmp"):
        leftover.unlink()
    found = [p for p in directory.glob("*" + SEGMENT_SUFFIX) if p.stem.isdigit()]
    return sorted(found, key=lambda p: int(p.stem))


def recover(directory: Path) -> tuple[list[RecoveredSegment], RecoveryReport]:
    """The segments that still hold unacknowledged records, after repairing damage."""
    (directory / QUARANTINE).mkdir(parents=True, exist_ok=True)
    report = RecoveryReport()
    report.acked, problem = read_checkpoint(directory)
    if problem:
        report.problems.append(problem)
        log.error("spool checkpoint damaged", extra={"fields": {"problem": problem}})
    paths, kept, last_seq = _segment_paths(directory), [], 0
    for number, path in enumerate(paths):
        segment = _load(path, last_seq, number == len(paths) - 1, report)
        if segment.frames:
            last_seq = segment.frames[-1].seq
        if not segment.frames or last_seq <= report.acked:
            path.unlink()
            report.deleted_segments += 1
            continue
        kept.append(segment)
        report.records += sum(1 for f in segment.frames if f.seq > report.acked)
    with contextlib.suppress(OSError):
        fsync_dir(directory)
    report.segments = len(kept)
    report.last_seq = max(last_seq, report.acked)
    return kept, report
