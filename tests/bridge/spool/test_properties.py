"""Random sequences of append, ack, reopen and torn appends (a crash inside an append)
against a model:
nothing acknowledged reappears, nothing unacknowledged is lost, order holds."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bridge.spool.frame import decode_record, scan_segment
from bridge.spool.journal import Spool, SpoolFull
from common.contract import OutgoingRecord
from tests.support.spooled import record, unacked

MAX_BYTES = 16 * 1024
SEGMENT_BYTES = 1024


class SpoolModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="spool-model-"))
        self.spool = Spool.open(self.directory, MAX_BYTES, SEGMENT_BYTES)
        self.expected: list[OutgoingRecord] = []  # unacknowledged, in order
        self.acked: set[bytes] = set()
        self.counter = 0

    def _group(self, sizes: list[int]) -> list[OutgoingRecord]:
        group = [record(self.counter + i, f"repo/{i % 3}", size) for i, size in enumerate(sizes)]
        self.counter += len(sizes)
        return group

    def _reopen(self) -> None:
        """Close and open again. Appends are unbuffered (write + fsync), so this is what a
        crash between two calls leaves; a crash inside an append is ``torn_append``."""
        self.spool.close()
        self.spool = Spool.open(self.directory, MAX_BYTES, SEGMENT_BYTES)

    @rule(sizes=st.lists(st.integers(0, 700), max_size=4))
    def append(self, sizes: list[int]) -> None:
        group = self._group(sizes)
        try:
            self.spool.append(group)
        except SpoolFull:
            return
        self.expected.extend(group)

    @rule(count=st.integers(1, 12))
    def drain(self, count: int) -> None:
        batch = self.spool.peek(max_records=count)
        assert [item.record for item in batch] == self.expected[: len(batch)]
        if batch:
            assert self.spool.ack(batch[-1].seq) == len(batch)
            self.acked.update(item.record.value for item in batch)
            del self.expected[: len(batch)]

    @precondition(lambda self: bool(self.expected))
    @rule()
    def set_aside(self) -> None:
        """The oldest record is one Kafka refuses for good."""
        (head,) = self.spool.peek(max_records=1)
        target = self.spool.set_aside(head.seq)
        assert decode_record(scan_segment(target.read_bytes()).frames[0].payload) == self.expected[0]
        self.acked.add(self.expected.pop(0).value)

    @rule()
    def reopen(self) -> None:
        self._reopen()
        assert self.spool.report.ok

    @precondition(lambda self: self.spool.stats().bytes < MAX_BYTES - 3000)
    @rule(sizes=st.lists(st.integers(0, 700), min_size=1, max_size=3), cut=st.floats(0.0, 0.999))
    def torn_append(self, sizes: list[int], cut: float) -> None:
        """An append that a crash cut short: it never returned, so it must vanish."""
        before = {p: p.stat().st_size for p in self.directory.glob("*.seg")}
        self.spool.append(self._group(sizes))
        newest = max(self.directory.glob("*.seg"))
        start, end = before.get(newest, 0), newest.stat().st_size
        with newest.open("r+b") as file:
            file.truncate(start + int((end - start) * cut))
        self._reopen()

    @invariant()
    def matches_the_model(self) -> None:
        assert self.spool.depth == len(self.expected)
        found = unacked(self.spool)
        assert found == self.expected
        assert not self.acked.intersection(r.value for r in found)
        assert self.spool.stats().bytes <= MAX_BYTES

    def teardown(self) -> None:
        self.spool.close()
        shutil.rmtree(self.directory, ignore_errors=True)


SpoolModel.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSpoolModel = SpoolModel.TestCase
