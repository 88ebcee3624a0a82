"""The spool with real files: round trip, order, acknowledgement, restart, cap."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.spool.journal import Spool, SpoolBusy, SpoolError, SpoolFull
from tests.support.paths import ROOT
from tests.support.spooled import event_id, record, unacked


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path)
    anonymous = record(2)
    anonymous = type(anonymous)(topic="x.invalid", key=None, value=b"\x00\xff raw", headers=[])
    last = spool.append([record(1, "a/b"), anonymous])
    assert last == 2
    assert unacked(spool) == [record(1, "a/b"), anonymous]
    assert [item.seq for item in spool.peek()] == [1, 2]


def test_peek_is_ordered_and_bounded_and_does_not_consume(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, segment_bytes=600)
    for n in range(30):
        spool.append([record(n)])
    assert len(segments(tmp_path)) > 3
    assert [event_id(i.record) for i in spool.peek(max_records=5)] == [f"ev-{n}" for n in range(5)]
    assert len(spool.peek(max_records=100, max_bytes=1)) == 1  # always at least one
    assert [event_id(r) for r in unacked(spool)] == [f"ev-{n}" for n in range(30)]


def test_ack_advances_and_deletes_drained_segments(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, segment_bytes=600)
    for n in range(30):
        spool.append([record(n)])
    before = len(segments(tmp_path))
    assert spool.ack(12) == 12
    assert spool.ack(12) == 0
    assert spool.stats().depth == 18
    assert len(segments(tmp_path)) < before
    assert [event_id(r) for r in unacked(spool)] == [f"ev-{n}" for n in range(12, 30)]
    assert spool.ack(30) == 18
    assert segments(tmp_path) == []
    stats = spool.stats()
    assert (stats.depth, stats.bytes, stats.segments, stats.oldest_age) == (0, 0, 0, 0.0)
    assert spool.append([record(99)]) == 31  # sequence numbers are never reused


def test_restart_recovers_what_was_not_acknowledged(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, segment_bytes=600)
    for n in range(20):
        spool.append([record(n), record(n + 100)])
    spool.ack(15)
    spool.close()
    again = Spool.open(tmp_path, segment_bytes=600)
    assert again.report.ok
    assert again.report.records == 25
    expected = [record(n) for n in range(20) for n in (n, n + 100)][15:]
    assert unacked(again) == expected
    assert again.append([record(500)]) == 41


def test_a_directory_is_used_by_one_spool_at_a_time(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path)
    with pytest.raises(SpoolBusy, match="in use"):
        Spool.open(tmp_path)
    spool.close()
    spool.close()  # idempotent
    Spool.open(tmp_path).close()


CRASHING_WRITER = """
import sys
from pathlib import Path
from bridge.spool.journal import Spool
from tests.support.spooled import record
spool = Spool.open(Path(sys.argv[1]))
n = 0
while True:
    spool.append([record(n * 3 + i, f"repo/{i}") for i in range(3)])
    print(n, flush=True)
    n += 1
"""


def test_sigkill_mid_stream_loses_no_returned_append(tmp_path: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    )
    assert writer.stdout is not None
    try:
        confirmed = [writer.stdout.readline() for _ in range(150)]
        with pytest.raises(SpoolBusy):  # the live writer holds the directory
            Spool.open(tmp_path)
    finally:
        writer.kill()
        rest, _ = writer.communicate()
    returned = len(confirmed) + len(rest.split())
    spool = Spool.open(tmp_path)  # the kernel released the lock of the dead writer
    found = [event_id(r) for r in unacked(spool)]
    assert len(found) % 3 == 0  # whole envelopes only
    assert returned * 3 <= len(found) <= (returned + 1) * 3
    assert found == [f"ev-{n}" for n in range(len(found))]


def test_stats_track_depth_bytes_and_age(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path)
    spool.append([record(1), record(2)])
    stats = spool.stats()
    assert stats.depth == 2
    assert stats.bytes == sum(p.stat().st_size for p in segments(tmp_path))
    assert stats.oldest_age >= 0.0
    assert stats.segments == 1


def test_oldest_append_follows_the_head_and_survives_a_restart(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, segment_bytes=300)
    for n in range(6):
        spool.append([record(n)])
    heads = [item.appended_at for item in spool.peek()]
    assert spool.stats().oldest_appended_at == heads[0]
    spool.ack(4)  # into a later segment
    assert spool.stats().oldest_appended_at == heads[4]
    spool.close()
    again = Spool.open(tmp_path)
    assert again.stats().oldest_appended_at == heads[4]
    again.ack(6)
    assert again.stats().oldest_appended_at is None


def test_an_append_past_the_cap_raises_spool_full(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, max_bytes=64 * 1024, segment_bytes=4096)
    count = 0
    with pytest.raises(SpoolFull):
        while True:
            spool.append([record(count, size=500)])
            count += 1
    assert 50 < count < 200
    assert spool.stats().bytes <= 64 * 1024
    assert len(unacked(spool)) == count  # the refused append left nothing behind
    spool.ack(count // 2)
    spool.append([record(1000, size=500)])  # room again once drained


def test_a_group_larger_than_the_cap_is_refused_whole(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, max_bytes=64 * 1024)
    with pytest.raises(SpoolFull):
        spool.append([record(n, size=1000) for n in range(100)])
    assert spool.stats().depth == 0
    assert segments(tmp_path) == []


def test_an_empty_group_writes_nothing(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path)
    assert spool.append([]) == 0
    assert segments(tmp_path) == []


def test_a_failed_write_is_cut_off_and_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = Spool.open(tmp_path)
    spool.append([record(1)])
    size = spool.stats().bytes
    real_write = os.write

    def half_then_full_disk(fd: int, data: bytes | memoryview) -> int:
        monkeypatch.setattr(os, "write", real_write)
        real_write(fd, bytes(data[:10]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full_disk)
    with pytest.raises(SpoolError, match="No space left"):
        spool.append([record(2)])
    assert segments(tmp_path)[0].stat().st_size == size
    spool.append([record(3)])
    spool.close()
    assert unacked(Spool.open(tmp_path)) == [record(1), record(3)]
