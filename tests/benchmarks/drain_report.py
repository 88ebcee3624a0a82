"""The table and the goals of ``docs/performance.md`` from one run of ``registry_drain.py``
(its JSON lines, in a file or on stdin):

    .venv/bin/python -m tests.benchmarks.drain_report var/bench/registry-drain-<time>.jsonl

Every ratio compares targets measured in the same run, as the goals say.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Row = dict[str, Any]
COLUMNS = ["target", "events/s", "vs null", "target CPU ms/event", "registry CPU ms/event"]
COLUMNS += ["broker CPU ms/event"]


@dataclass(frozen=True)
class Goal:
    what: str
    target: str
    reference: str  # another target, or "" for an absolute bound on the target's CPU
    at_least: float  # ratio of rates, or (reference "") the most CPU ms per event

    def judge(self, rows: dict[str, Row]) -> str:
        if self.target not in rows or (self.reference and self.reference not in rows):
            return f"| {self.what} | not measured in this run | |"
        row = rows[self.target]
        if not self.reference:
            cpu = row["target_cpu_ms_per_event"]
            return f"| {self.what} | **{cpu:.2f} ms** | {'met' if cpu <= self.at_least else 'missed'} |"
        ratio = row["rate_per_s"] / rows[self.reference]["rate_per_s"]
        measured = f"{row['rate_per_s']:,} vs {rows[self.reference]['rate_per_s']:,}/s = **{ratio:.2f}x**"
        return f"| {self.what} | {measured} | {'met' if ratio >= self.at_least else 'missed'} |"


GOALS = (
    Goal("plain HTTP ≥ 1.5x kafka-hooks", "bridge", "kafka-hooks", 1.5),
    Goal("plain HTTP ≥ 1.15x the naive bridge", "bridge", "naive", 1.15),
    Goal("plain HTTP ≥ 0.5x the null receiver", "bridge", "null", 0.5),
    Goal("TLS ≥ 0.9x the TLS null receiver", "bridge-tls", "null-tls", 0.9),
    Goal("bridge CPU ≤ 0.5 ms per event (plain HTTP)", "bridge", "", 0.5),
    Goal("spool on within 10 % of spool off", "bridge-spool", "bridge", 0.9),
)


def table(rows: Iterable[Row]) -> list[str]:
    lines = ["| " + " | ".join(COLUMNS) + " |", "| " + " | ".join("---" for _ in COLUMNS) + " |"]
    for row in rows:
        cells = (
            row["target"],
            f"{row['rate_per_s']:,}",
            f"{row['vs_null']:.2f}" if row.get("vs_null") is not None else "-",
            f"{row['target_cpu_ms_per_event']:.2f}",
            f"{row['registry_cpu_ms_per_event']:.2f}",
            f"{row['broker_cpu_ms_per_event']:.2f}",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def report(rows: list[Row]) -> str:
    by_target = {row["target"]: row for row in rows}
    troubled = [r["target"] for r in rows if r.get("pending") or r["delivered"] < r["events"]]
    lines = table(rows)
    lines += ["", "| goal | measured | |", "| --- | --- | --- |"]
    lines += [goal.judge(by_target) for goal in GOALS]
    if troubled:
        lines += ["", f"WARNING: not every event was delivered cleanly for {', '.join(troubled)}"]
    return "\n".join(lines)


def main() -> None:
    source = Path(sys.argv[1]).read_text() if len(sys.argv) > 1 else sys.stdin.read()
    rows = [json.loads(line) for line in source.splitlines() if line.startswith("{")]
    if not rows:
        raise SystemExit("no result lines (registry_drain.py prints one JSON object per target)")
    print(report(rows))


if __name__ == "__main__":
    main()
