"""Torn writes and damage: detected on open, intact records kept, damage moved aside."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bridge.spool.frame import HEADER_SIZE
from bridge.spool.journal import Spool, SpoolError
from tests.support.spooled import event_id, record, unacked


def only_segment(directory: Path) -> Path:
    (found,) = directory.glob("*.seg")
    return found


def filled(directory: Path, groups: list[int]) -> tuple[Spool, list[int]]:
    """A spool with one group per item of ``groups`` (its size); the byte offset where
    each group starts, plus the end."""
    spool = Spool.open(directory)
    starts, n = [0], 0
    for size in groups:
        spool.append([record(n + i) for i in range(size)])
        n += size
        starts.append(spool.stats().bytes)
    spool.close()
    return spool, starts


def ids(spool: Spool) -> list[str]:
    return [event_id(r) for r in unacked(spool)]


def quarantined_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((directory / "quarantine").iterdir()))


def test_truncated_last_record_drops_the_torn_group_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, starts = filled(tmp_path, [1, 1, 1])
    segment = only_segment(tmp_path)
    data = segment.read_bytes()
    segment.write_bytes(data[: starts[2] + HEADER_SIZE + 5])  # mid-payload of the third
    with caplog.at_level(logging.ERROR, logger="bridge.spool"):
        spool = Spool.open(tmp_path)
    assert ids(spool) == ["ev-0", "ev-1"]
    (damage,) = spool.report.quarantined
    assert (damage.offset, damage.length) == (starts[2], HEADER_SIZE + 5)
    assert damage.file.read_bytes() == data[starts[2] : starts[2] + HEADER_SIZE + 5]
    assert damage.reason == "truncated frame payload"
    assert any(r.levelno == logging.ERROR and "quarantined" in r.getMessage() for r in caplog.records)
    assert segment.stat().st_size == starts[2]
    assert spool.append([record(7)]) == 3


def test_flipped_bytes_in_the_last_record_are_caught_by_the_checksum(tmp_path: Path) -> None:
    _, starts = filled(tmp_path, [1, 1, 1])
    segment = only_segment(tmp_path)
    data = bytearray(segment.read_bytes())
    data[-3] ^= 0xFF
    segment.write_bytes(bytes(data))
    spool = Spool.open(tmp_path)
    assert ids(spool) == ["ev-0", "ev-1"]
    (damage,) = spool.report.quarantined
    assert damage.reason == "checksum mismatch"
    assert quarantined_bytes(tmp_path) == bytes(data[starts[2] :])


def test_garbage_after_the_last_record_is_moved_aside(tmp_path: Path) -> None:
    filled(tmp_path, [1, 2])
    segment = only_segment(tmp_path)
    with segment.open("ab") as file:
        file.write(b"\x00garbage\xffRKS1 more garbage")
    spool = Spool.open(tmp_path)
    assert ids(spool) == ["ev-0", "ev-1", "ev-2"]
    assert quarantined_bytes(tmp_path) == b"\x00garbage\xffRKS1 more garbage"


def test_a_group_torn_in_its_middle_is_dropped_whole(tmp_path: Path) -> None:
    _, starts = filled(tmp_path, [2, 3])
    segment = only_segment(tmp_path)
    record_size = (starts[2] - starts[1]) // 3
    segment.write_bytes(segment.read_bytes()[: starts[1] + 2 * record_size])  # 2 of 3 written
    spool = Spool.open(tmp_path)
    assert ids(spool) == ["ev-0", "ev-1"]
    (damage,) = spool.report.quarantined
    assert (damage.offset, damage.length) == (starts[1], 2 * record_size)
    assert damage.reason.startswith("torn append")


def test_damage_in_the_middle_keeps_every_intact_record_around_it(tmp_path: Path) -> None:
    _, starts = filled(tmp_path, [1, 1, 1, 1])
    segment = only_segment(tmp_path)
    data = bytearray(segment.read_bytes())
    data[starts[1] + HEADER_SIZE + 2] ^= 0x01  # one bit in the second record's payload
    segment.write_bytes(bytes(data))
    spool = Spool.open(tmp_path)
    assert ids(spool) == ["ev-0", "ev-2", "ev-3"]
    (damage,) = spool.report.quarantined
    assert (damage.offset, damage.length) == (starts[1], starts[2] - starts[1])
    spool.close()
    assert Spool.open(tmp_path).report.ok  # repaired once, clean from then on


def test_a_damaged_older_segment_keeps_the_rest_of_a_split_group(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, segment_bytes=200)
    spool.append([record(0), record(1), record(2)])
    spool.append([record(3)])
    spool.close()
    first, _ = sorted(tmp_path.glob("*.seg"))
    data = bytearray(first.read_bytes())
    data[HEADER_SIZE + 1] ^= 0x40  # the first record of the three-record group
    first.write_bytes(bytes(data))
    recovered = Spool.open(tmp_path, segment_bytes=200)
    assert ids(recovered) == ["ev-1", "ev-2", "ev-3"]  # acknowledged to the registry: keep them
    assert len(recovered.report.quarantined) == 1


def test_a_segment_of_pure_garbage_is_quarantined_whole(tmp_path: Path) -> None:
    filled(tmp_path, [1])
    (tmp_path / f"{5:020d}.seg").write_bytes(b"\x01" * 300)
    spool = Spool.open(tmp_path)
    assert ids(spool) == ["ev-0"]
    assert quarantined_bytes(tmp_path) == b"\x01" * 300
    assert len(list(tmp_path.glob("*.seg"))) == 1


def test_a_damaged_checkpoint_replays_everything_rather_than_skip(tmp_path: Path) -> None:
    spool, _ = filled(tmp_path, [1, 1, 1])
    spool = Spool.open(tmp_path)
    spool.ack(2)
    spool.close()
    (tmp_path / "checkpoint").write_bytes(b"RKC1 torn")
    again = Spool.open(tmp_path)
    assert ids(again) == ["ev-0", "ev-1", "ev-2"]  # at least once: duplicates, never loss
    assert "checkpoint" in again.report.problems[0]


def test_a_crash_between_checkpoint_and_delete_is_finished_on_open(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, segment_bytes=200)
    for n in range(6):
        spool.append([record(n)])
    spool.ack(3)
    spool.close()
    stale = tmp_path / f"{1:020d}.seg"
    stale.write_bytes(b"")  # an empty left-over segment
    again = Spool.open(tmp_path, segment_bytes=200)
    assert ids(again) == ["ev-3", "ev-4", "ev-5"]
    assert not stale.exists()


def test_damage_found_after_open_is_an_error_not_a_crash(tmp_path: Path) -> None:
    filled(tmp_path, [1, 1])
    spool = Spool.open(tmp_path)
    segment = only_segment(tmp_path)
    data = bytearray(segment.read_bytes())
    data[HEADER_SIZE] ^= 0x01
    segment.write_bytes(bytes(data))
    with pytest.raises(SpoolError, match="reopen"):
        spool.peek()
    spool.close()
    assert ids(Spool.open(tmp_path)) == ["ev-1"]
