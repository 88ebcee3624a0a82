"""A local write-ahead spool of :class:`~common.contract.OutgoingRecord` for when Kafka
cannot acknowledge in time. Standard library only (no Starlette, no aiokafka).

* :meth:`Spool.append` writes one envelope's records as one all-or-nothing group, and
  fsyncs before it returns. Each record is a checksummed frame with a sequence number
  (format in ``bridge.spool.frame``).
* :meth:`Spool.peek` reads in order from the oldest unacknowledged record;
  :meth:`Spool.ack` (once Kafka has acknowledged) moves a durable checkpoint forward
  and deletes drained segments; :meth:`Spool.set_aside` moves the oldest record to
  ``quarantine/`` instead (a record Kafka will never take).
* :meth:`Spool.open` recovers everything not acknowledged, and quarantines damage
  (``bridge.spool.recovery``). Delivery is at least once: a record published but not yet
  checkpointed when the process dies is published again, with the same event id, which
  downstream deduplicates.

:class:`~bridge.spool.asyncspool.AsyncSpool` runs the blocking file I/O in a worker thread.

Errors::

    SpoolError
    ├── SpoolFull      this append would take the spool past its byte cap (→ 503 + Retry-After)
    ├── SpoolBusy      another spool (in this or another process) has the directory open
    └── SpoolBroken    a write failed and could not be undone; reopen the spool
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bridge.spool.frame import Frame, FrameError, decode_record, encode_frame, encode_record, read_frames
from bridge.spool.recovery import (
    QUARANTINE,
    RecoveryReport,
    fsync_dir,
    recover,
    segment_name,
    write_checkpoint,
    write_durably,
)
from common.contract import OutgoingRecord
from common.environ import Environ

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_SEGMENT_BYTES = 4 * 1024 * 1024
LOCK = "lock"


class SpoolError(Exception):
    """The spool cannot take or give records."""


class SpoolFull(SpoolError):
    """An append would take the spool past its byte cap."""


class SpoolBusy(SpoolError):
    """Another open spool holds the directory's lock: replicas need a directory each."""


class SpoolBroken(SpoolError):
    """A write failed and the segment could not be restored; reopen the spool."""


@dataclass(frozen=True, slots=True)
class SpoolSettings:
    """``REGBRIDGE_SPOOL_DIR`` (empty: no spool) and ``REGBRIDGE_SPOOL_MAX_BYTES``."""

    directory: Path | None = None
    max_bytes: int = DEFAULT_MAX_BYTES

    @classmethod
    def from_environ(cls, env: Environ) -> SpoolSettings:
        return cls(
            directory=env.path("SPOOL_DIR"),
            max_bytes=env.integer("SPOOL_MAX_BYTES", DEFAULT_MAX_BYTES, minimum=64 * 1024),
        )


@dataclass(frozen=True, slots=True)
class SpoolStats:
    depth: int  # unacknowledged records
    bytes: int  # bytes of the segment files on disk (what the cap counts)
    oldest_age: float  # seconds since the oldest unacknowledged append; 0 when empty
    oldest_appended_at: float | None  # epoch seconds of that append; None when empty
    segments: int
    max_bytes: int


@dataclass(frozen=True, slots=True)
class Spooled:
    seq: int
    record: OutgoingRecord
    appended_at: float  # epoch seconds


@dataclass(slots=True)
class _Segment:
    path: Path
    first_seq: int
    last_seq: int
    size: int


class Spool:
    """The spool in one directory. Thread-safe; every method but :meth:`stats` and
    :attr:`depth` does blocking I/O."""

    def __init__(
        self, directory: Path, max_bytes: int, segment_bytes: int, report: RecoveryReport, lock: int
    ) -> None:
        self.directory, self.max_bytes, self.report = directory, max_bytes, report
        self._lock_fd: int | None = lock
        self._segment_bytes = max(1, min(segment_bytes, max_bytes // 4))
        self._lock = threading.Lock()
        self._segments: list[_Segment] = []
        self._acked = report.acked
        self._next_seq = report.last_seq + 1
        self._depth = 0
        self._head = 0  # offset of the oldest unacknowledged frame in _segments[0]
        self._oldest_ms = 0
        self._fd: int | None = None
        self._broken = False
        self.set_aside_bytes = 0  # moved to quarantine/ by set_aside since the open

    @classmethod
    def open(
        cls, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES, segment_bytes: int = DEFAULT_SEGMENT_BYTES
    ) -> Spool:
        """Recover the spool in ``directory`` (created when missing); see ``self.report``."""
        directory.mkdir(parents=True, exist_ok=True)
        lock = _lock(directory)
        try:
            found, report = recover(directory)
        except BaseException:
            os.close(lock)
            raise
        spool = cls(directory, max_bytes, segment_bytes, report, lock)
        for seg in found:
            spool._segments.append(_Segment(seg.path, seg.first_seq, seg.frames[-1].seq, seg.size))
            spool._depth += sum(1 for f in seg.frames if f.seq > report.acked)
        if found:
            head = next(f for f in found[0].frames if f.seq > report.acked)
            spool._head, spool._oldest_ms = head.offset, head.ts_ms
            spool._fd = os.open(found[-1].path, os.O_WRONLY | os.O_APPEND)
        return spool

    def close(self) -> None:
        """Close the files and release the directory (idempotent)."""
        with self._lock:
            self._close_fd()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # appending

    def append(self, records: Sequence[OutgoingRecord]) -> int:
        """Write ``records`` as one group and fsync; returns the last sequence number."""
        with self._lock:
            if self._broken:
                raise SpoolBroken("an earlier write failed; reopen the spool")
            if not records:
                return self._next_seq - 1
            now_ms = int(time.time() * 1000)
            data = self._frames(records, now_ms)
            used = sum(s.size for s in self._segments)
            if used + len(data) > self.max_bytes:
                raise SpoolFull(f"spool holds {used} bytes; {len(data)} more would pass {self.max_bytes}")
            segment = self._writable_segment()
            self._write(segment, data)
            if self._depth == 0:
                self._head, self._oldest_ms = segment.size, now_ms
            segment.size += len(data)
            segment.last_seq = self._next_seq + len(records) - 1
            self._next_seq, self._depth = segment.last_seq + 1, self._depth + len(records)
            return segment.last_seq

    def _frames(self, records: Sequence[OutgoingRecord], now_ms: int) -> bytes:
        count = len(records)
        return b"".join(
            encode_frame(encode_record(r), seq=self._next_seq + i, index=i, count=count, ts_ms=now_ms)
            for i, r in enumerate(records)
        )

    def _writable_segment(self) -> _Segment:
        if self._segments and self._segments[-1].size < self._segment_bytes:
            return self._segments[-1]
        self._close_fd()
        path = self.directory / segment_name(self._next_seq)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        fsync_dir(self.directory)
        segment = _Segment(path, self._next_seq, self._next_seq - 1, 0)
        self._segments.append(segment)
        return segment

    def _write(self, segment: _Segment, data: bytes) -> None:
        assert self._fd is not None
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as exc:
            self._undo(segment)
            raise SpoolError(f"spool write failed: {exc}") from exc

    def _undo(self, segment: _Segment) -> None:
        """Cut a failed append off the segment, or mark the spool broken."""
        try:
            assert self._fd is not None
            os.ftruncate(self._fd, segment.size)
            os.fsync(self._fd)
        except (OSError, AssertionError):
            self._broken = True

    # reading and acknowledging

    def peek(self, max_records: int = 500, max_bytes: int = 1024 * 1024) -> list[Spooled]:
        """The oldest unacknowledged records, in order (at least one when not empty)."""
        found: list[Spooled] = []
        taken = 0
        with self._lock, self._reading():
            for _, frame in self._walk(payload=True):
                if len(found) >= max_records or (found and taken + frame.size > max_bytes):
                    break
                found.append(Spooled(frame.seq, decode_record(frame.payload), frame.ts_ms / 1000))
                taken += frame.size
        return found

    def ack(self, upto_seq: int) -> int:
        """Acknowledge every record up to ``upto_seq``; returns how many were newly acked."""
        with self._lock, self._reading():
            if upto_seq <= self._acked or not self._segments:
                return 0
            upto_seq = min(upto_seq, self._next_seq - 1)
            write_checkpoint(self.directory, upto_seq)
            self._acked, done = upto_seq, self._advance(upto_seq)
            self._depth -= done
            return done

    def set_aside(self, seq: int) -> Path:
        """Move the oldest record (it must be ``seq``) to ``quarantine/`` and acknowledge
        it: for a record Kafka will never take. The file reads with ``spoolinspect``."""
        with self._lock, self._reading():
            frame = next((f for _, f in self._walk(payload=True)), None)
            if frame is None or frame.seq != seq:
                raise SpoolError(f"record {seq} is not the oldest in the spool")
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            target = self.directory / QUARANTINE / f"rejected-{seq:020d}.{stamp}.seg"
            single = encode_frame(frame.payload, seq=seq, index=0, count=1, ts_ms=frame.ts_ms)
            write_durably(target, single)
            self.set_aside_bytes += len(single)
        self.ack(seq)
        return target

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        try:
            yield
        except FrameError as exc:
            raise SpoolError(f"the spool was damaged after it was opened; reopen it: {exc}") from exc

    def _walk(self, *, payload: bool) -> Iterator[tuple[int, Frame]]:
        """Every unacknowledged frame in order, with the index of its segment."""
        offset = self._head
        for number, segment in enumerate(list(self._segments)):
            for frame in read_frames(segment.path, offset, segment.size, payload=payload):
                yield number, frame
            offset = 0

    def _advance(self, upto_seq: int) -> int:
        """Move the head past ``upto_seq``, deleting drained segments; frames passed."""
        done = 0
        for number, frame in self._walk(payload=False):
            if frame.seq > upto_seq:
                self._drop_segments(number)
                self._head, self._oldest_ms = frame.offset, frame.ts_ms
                return done
            done += 1
        self._drop_segments(len(self._segments))
        self._head, self._oldest_ms = 0, 0
        return done

    def _drop_segments(self, count: int) -> None:
        dropped, self._segments[:count] = self._segments[:count], []
        if not self._segments:
            self._close_fd()
        for segment in dropped:
            segment.path.unlink()

    def stats(self) -> SpoolStats:
        """Memory only and without the lock (an append may hold it through an fsync), so
        it is safe on the event loop; the fields may be one append apart."""
        depth, oldest_ms, segments = self._depth, self._oldest_ms, list(self._segments)
        oldest = oldest_ms / 1000 if depth else None
        age = max(0.0, time.time() - oldest) if oldest is not None else 0.0
        size = sum(s.size for s in segments)
        return SpoolStats(depth, size, age, oldest, len(segments), self.max_bytes)

    @property
    def depth(self) -> int:
        return self._depth


def _lock(directory: Path) -> int:
    """An exclusive lock on ``directory/lock``; the kernel drops it when the process dies."""
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SpoolBusy(f"{directory} is in use by another spool; give each bridge its own") from None
    return fd
