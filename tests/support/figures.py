"""What a fault test measured, and how it is counted.

The registry's event ids (recorded by the tap) are the truth: an id that never reached
Kafka is lost, an id that reached it more than once is a duplicate. Each test appends one
JSON line to ``<artifacts>/fault-figures.jsonl``; ``docs/reliability.md`` reports them.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.support.kafka import Landed

FIGURES_FILE = "fault-figures.jsonl"


def landed_ids(records: Iterable[Landed]) -> Counter[str]:
    """How many times each event id landed (``event-id`` header)."""
    return Counter(r.headers["event-id"].decode() for r in records if "event-id" in r.headers)


@dataclass
class Figures:
    test: str
    events_sent: int = 0
    faults: str = ""
    lost: int = -1
    duplicates: int = -1
    unexpected: int = -1
    recover_seconds: float = -1.0
    extra: dict[str, Any] = field(default_factory=dict)

    def count(self, sent: set[str], landed: Counter[str]) -> list[str]:
        """Fill in the counts; returns the lost ids (sorted)."""
        lost = sorted(sent - set(landed))
        self.events_sent = len(sent)
        self.lost = len(lost)
        self.duplicates = sum(n - 1 for n in landed.values())
        self.unexpected = len(set(landed) - sent)
        return lost

    def write(self, artifacts: Path) -> None:
        line = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **asdict(self)}
        with open(artifacts / FIGURES_FILE, "a") as out:
            out.write(json.dumps(line, sort_keys=True) + "\n")
