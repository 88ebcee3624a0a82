"""The on-disk format of the spool: frames, record encoding, and scanning a segment.

Standard library only. A segment file is a sequence of frames, one per record::

    offset size  field
    0      4     magic  b"RKS1"
    4      4     crc    zlib.crc32 of bytes 8..36 of the header and of the payload
    8      4     length payload length in bytes
    12     8     seq    sequence number, strictly increasing across the whole spool
    20     4     index  position of this record in its group (0-based)
    24     4     count  number of records in its group (one envelope's events)
    28     8     ts_ms  wall-clock time of the append, milliseconds since the epoch
    36     n     payload: the encoded :class:`~common.contract.OutgoingRecord`

All integers are little-endian. The CRC covers every header field after itself, so a
damaged ``length`` is caught too. zlib.crc32 (not CRC32C) is used: it is in the standard
library, runs at GB/s, and is as good as CRC32C at catching the torn writes and flipped
bytes the spool guards against; nothing outside the bridge reads these files.

Payload: ``topic`` (u16 length + UTF-8), ``key`` (i32 length, -1 for none, + bytes),
``value`` (u32 length + bytes), header count (u16), then each header as u16 name length +
UTF-8 name + u32 value length + bytes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from common.contract import OutgoingRecord

MAGIC = b"RKS1"
HEADER = struct.Struct("<4sII QII Q".replace(" ", ""))
HEADER_SIZE = HEADER.size  # 36
_CRC_FROM = 8
MAX_PAYLOAD = 64 * 1024 * 1024

_U16 = struct.Struct("<H")
_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")


class FrameError(ValueError):
    """Bytes that are not one intact frame or payload."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One record as stored: where it sits in its segment and what it carries."""

    seq: int
    index: int
    count: int
    ts_ms: int
    offset: int
    size: int  # header + payload
    payload: bytes = field(repr=False)

    def at(self, offset: int) -> Frame:
        """The same frame, placed at ``offset`` of its segment."""
        return Frame(self.seq, self.index, self.count, self.ts_ms, offset, self.size, self.payload)

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def closes_group(self) -> bool:
        return self.index == self.count - 1


def encode_record(record: OutgoingRecord) -> bytes:
    topic = record.topic.encode()
    parts = [_U16.pack(len(topic)), topic]
    if record.key is None:
        parts.append(_I32.pack(-1))
    else:
        parts += [_I32.pack(len(record.key)), record.key]
    parts += [_U32.pack(len(record.value)), record.value, _U16.pack(len(record.headers))]
    for name, value in record.headers:
        raw_name = name.encode()
        parts += [_U16.pack(len(raw_name)), raw_name, _U32.pack(len(value)), value]
    return b"".join(parts)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise FrameError("payload field runs past its end")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def number(self, fmt: struct.Struct) -> int:
        return int(fmt.unpack(self.take(fmt.size))[0])


def decode_record(payload: bytes) -> OutgoingRecord:
    reader = _Reader(payload)
    try:
        topic = reader.take(reader.number(_U16)).decode()
        key_size = reader.number(_I32)
        key = None if key_size == -1 else reader.take(key_size)
        value = reader.take(reader.number(_U32))
        headers = []
        for _ in range(reader.number(_U16)):
            name = reader.take(reader.number(_U16)).decode()
            headers.append((name, reader.take(reader.number(_U32))))
    except UnicodeDecodeError as exc:
        raise FrameError(f"payload text is not UTF-8: {exc}") from None
    if reader.pos != len(payload):
        raise FrameError("payload has trailing bytes")
    return OutgoingRecord(topic=topic, key=key, value=value, headers=headers)


def encode_frame(payload: bytes, *, seq: int, index: int, count: int, ts_ms: int) -> bytes:
    tail = HEADER.pack(MAGIC, 0, len(payload), seq, index, count, ts_ms)[_CRC_FROM:]
    crc = zlib.crc32(payload, zlib.crc32(tail))
    return MAGIC + _U32.pack(crc) + tail + payload


def parse_frame(data: bytes, offset: int) -> Frame:
    """The intact frame at ``offset`` of ``data``, else :class:`FrameError`."""
    if offset + HEADER_SIZE > len(data):
        raise FrameError("truncated frame header")
    magic, crc, length, seq, index, count, ts_ms = HEADER.unpack_from(data, offset)
    if magic != MAGIC:
        raise FrameError("bad magic")
    if length > MAX_PAYLOAD or offset + HEADER_SIZE + length > len(data):
        raise FrameError("truncated frame payload")
    start = offset + HEADER_SIZE
    payload = data[start : start + length]
    if zlib.crc32(payload, zlib.crc32(data[offset + _CRC_FROM : start])) != crc:
        raise FrameError("checksum mismatch")
    if count < 1 or index >= count:
        raise FrameError("bad group position")
    return Frame(seq, index, count, ts_ms, offset, HEADER_SIZE + length, payload)


@dataclass(frozen=True, slots=True)
class Damage:
    """A span of bytes in a segment that holds no intact frame."""

    offset: int
    end: int
    reason: str


@dataclass(slots=True)
class Scan:
    """What a segment holds: its intact frames in order, and the damaged spans."""

    frames: list[Frame] = field(default_factory=list)
    damage: list[Damage] = field(default_factory=list)


def _resync(data: bytes, start: int, after_seq: int) -> Frame | None:
    """The next intact frame after a damaged span, searching by magic."""
    pos = data.find(MAGIC, start)
    while pos != -1:
        try:
            frame = parse_frame(data, pos)
        except FrameError:
            pos = data.find(MAGIC, pos + 1)
            continue
        if frame.seq > after_seq:
            return frame
        pos = data.find(MAGIC, pos + 1)
    return None


def _frames(data: bytes, after_seq: int, scan: Scan) -> Iterator[Frame]:
    pos = 0
    while pos < len(data):
        try:
            frame = parse_frame(data, pos)
            if frame.seq <= after_seq:
                raise FrameError(f"sequence {frame.seq} does not follow {after_seq}")
        except FrameError as exc:
            found = _resync(data, pos + 1, after_seq)
            scan.damage.append(Damage(pos, found.offset if found else len(data), str(exc)))
            if found is None:
                return
            frame = found
        yield frame
        after_seq, pos = frame.seq, frame.end


def scan_segment(data: bytes, after_seq: int = 0) -> Scan:
    """Every intact frame of ``data`` whose sequence follows ``after_seq``.

    A damaged span (bad magic, checksum, length, or a sequence that goes backwards) is
    skipped up to the next intact frame, found by its magic, and listed in ``damage``.
    """
    scan = Scan()
    scan.frames.extend(_frames(data, after_seq, scan))
    return scan


def read_frame(file: BinaryIO, offset: int, *, payload: bool = True) -> Frame:
    """The frame at ``offset``, where ``file`` is positioned. Without ``payload``, only
    the header is read and checked (the checksum is not), and the file skips the payload."""
    header = file.read(HEADER_SIZE)
    if len(header) < HEADER_SIZE:
        raise FrameError(f"truncated frame header at {offset}")
    magic, _, length, seq, index, count, ts_ms = HEADER.unpack(header)
    if not payload:
        if magic != MAGIC:
            raise FrameError(f"bad magic at {offset}")
        file.seek(length, 1)
        return Frame(seq, index, count, ts_ms, offset, HEADER_SIZE + length, b"")
    return parse_frame(header + file.read(length), 0).at(offset)


def read_frames(path: Path, offset: int, end: int, *, payload: bool = True) -> Iterator[Frame]:
    """The frames of a segment file from ``offset`` up to ``end``."""
    with open(path, "rb") as file:
        file.seek(offset)
        while offset < end:
            frame = read_frame(file, offset, payload=payload)
            yield frame
            offset = frame.end
