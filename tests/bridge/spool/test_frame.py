"""The frame format: every record round-trips, every torn or flipped frame is caught."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.spool.frame import (
    HEADER_SIZE,
    FrameError,
    decode_record,
    encode_frame,
    encode_record,
    parse_frame,
    scan_segment,
)
from common.contract import OutgoingRecord

records = st.builds(
    OutgoingRecord,
    topic=st.text(max_size=40),
    key=st.none() | st.binary(max_size=50),
    value=st.binary(max_size=300),
    headers=st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=40)), max_size=6),
)

# shared CPU: a slow example must not read as a flaky one
NO_DEADLINE = settings(deadline=None)


def frame_of(item: OutgoingRecord, seq: int = 1, index: int = 0, count: int = 1) -> bytes:
    return encode_frame(encode_record(item), seq=seq, index=index, count=count, ts_ms=1_700_000_000_000)


@NO_DEADLINE
@given(records)
def test_every_record_round_trips(item: OutgoingRecord) -> None:
    frame = parse_frame(frame_of(item, seq=42), 0)
    assert (frame.seq, frame.index, frame.count, frame.ts_ms) == (42, 0, 1, 1_700_000_000_000)
    assert decode_record(frame.payload) == item


@NO_DEADLINE
@given(records, st.data())
def test_any_flipped_byte_is_caught(item: OutgoingRecord, data: st.DataObject) -> None:
    raw = bytearray(frame_of(item))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises(FrameError):
        parse_frame(bytes(raw), 0)


@NO_DEADLINE
@given(records, st.data())
def test_any_truncation_is_caught(item: OutgoingRecord, data: st.DataObject) -> None:
    raw = frame_of(item)
    with pytest.raises(FrameError):
        parse_frame(raw[: data.draw(st.integers(0, len(raw) - 1))], 0)


@NO_DEADLINE
@given(st.binary(max_size=2000))
def test_scanning_random_bytes_never_raises(noise: bytes) -> None:
    scan = scan_segment(noise)
    assert all(d.offset < d.end <= len(noise) for d in scan.damage)


@NO_DEADLINE
@given(st.lists(records, min_size=1, max_size=5), st.binary(min_size=1, max_size=100), st.data())
def test_scan_skips_noise_between_intact_frames(
    items: list[OutgoingRecord], noise: bytes, data: st.DataObject
) -> None:
    frames = [frame_of(item, seq=n + 1) for n, item in enumerate(items)]
    at = data.draw(st.integers(0, len(frames)))
    segment = b"".join(frames[:at]) + noise + b"".join(frames[at:])
    scan = scan_segment(segment)
    assert [decode_record(f.payload) for f in scan.frames] == items
    assert sum(d.end - d.offset for d in scan.damage) == len(noise)


def test_a_sequence_that_goes_backwards_is_damage() -> None:
    item = OutgoingRecord("t", b"k", b"v", [])
    segment = frame_of(item, seq=5) + frame_of(item, seq=3) + frame_of(item, seq=6)
    scan = scan_segment(segment)
    assert [f.seq for f in scan.frames] == [5, 6]
    assert scan.damage[0].reason.startswith("sequence 3")


def test_a_bad_group_position_is_rejected() -> None:
    raw = frame_of(OutgoingRecord("t", None, b"v", []), index=2, count=2)
    with pytest.raises(FrameError, match="group position"):
        parse_frame(raw, 0)
    assert HEADER_SIZE == 36


def test_trailing_payload_bytes_are_rejected() -> None:
    with pytest.raises(FrameError, match="trailing"):
        decode_record(encode_record(OutgoingRecord("t", None, b"v", [])) + b"x")
