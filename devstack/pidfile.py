"""The demo's pid file, ``var/dev.pid``: which demo runs from this directory, with which
processes on which ports, so that a second ``make run`` can say so instead of failing on
taken ports and a busy spool.

The running supervisor holds an exclusive ``flock`` on the file for its whole life; the
kernel drops the lock when the process ends, however it ends. A start that cannot take the
lock reads the record and raises :class:`DemoRunning`. A start that can, but finds processes
of the previous record still alive (a supervisor killed before its children, which
``PR_SET_PDEATHSIG`` should have prevented), raises it too: those hold the ports. Every
process is recorded with its start time (``/proc/<pid>/stat``), so a pid the kernel has
since given to another program is not mistaken for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


def process_start(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot; None when there is no such process
    (or it is a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


@dataclass(frozen=True, slots=True)
class Running:
    """One process of the demo: a name, its pid, the ports it listens on, its start time."""

    name: str
    pid: int
    ports: tuple[int, ...] = ()
    started: int | None = None

    @classmethod
    def of(cls, name: str, pid: int, ports: tuple[int, ...] = ()) -> Running:
        return cls(name, pid, ports, process_start(pid))

    def alive(self) -> bool:
        return self.started is not None and process_start(self.pid) == self.started

    def describe(self) -> str:
        ports = ", ".join(str(p) for p in self.ports)
        where = f"  port{'s' if len(self.ports) > 1 else ''} {ports}" if ports else ""
        return f"  {self.name:<15} PID {self.pid:<8}{where}".rstrip()


@dataclass(frozen=True, slots=True)
class DemoRecord:
    supervisor: Running
    directory: str
    since: str
    children: tuple[Running, ...] = field(default=())

    def dumps(self) -> str:
        def one(r: Running) -> dict[str, Any]:
            return {"name": r.name, "pid": r.pid, "ports": list(r.ports), "started": r.started}

        record = {"directory": self.directory, "since": self.since, "supervisor": one(self.supervisor)}
        return json.dumps({**record, "children": [one(c) for c in self.children]}, indent=1)

    @classmethod
    def loads(cls, text: str) -> DemoRecord | None:
        """The record in ``text``; None when it is empty or not one (a torn write)."""
        try:
            data = json.loads(text)

            def one(d: dict[str, Any]) -> Running:
                return Running(str(d["name"]), int(d["pid"]), tuple(int(p) for p in d["ports"]), d["started"])

            children = tuple(one(c) for c in data["children"])
            return cls(one(data["supervisor"]), str(data["directory"]), str(data["since"]), children)
        except (ValueError, KeyError, TypeError):
            return None


class DemoRunning(Exception):
    """A demo of this directory still runs (or its processes do)."""

    def __init__(self, record: DemoRecord, supervisor_alive: bool) -> None:
        super().__init__("a demo is already running")
        self.record = record
        self.supervisor_alive = supervisor_alive
        self.alive = [child for child in record.children if child.alive()]

    def explain(self) -> str:
        """What runs, and the command that stops it."""
        record = self.record
        if not record.supervisor.pid:
            return (
                f"another demo is starting in {record.directory}: wait for it, or stop it, then start again"
            )
        if self.supervisor_alive:
            head = f"a demo is already running in {record.directory} (since {record.since}):"
            rows = [record.supervisor.describe(), *(c.describe() for c in self.alive)]
            stop = (
                f"stop it with:  kill {record.supervisor.pid}   (or Ctrl-C where it runs), then start again"
            )
        else:
            head = (
                f"processes of an earlier demo in {record.directory} are still running "
                f"(its supervisor, PID {record.supervisor.pid}, is gone):"
            )
            rows = [c.describe() for c in self.alive]
            stop = f"stop them with:  kill {' '.join(str(c.pid) for c in self.alive)}   then start again"
        return "\n".join([head, *rows, stop])


class PidFile:
    """``claim()`` at start (raises :class:`DemoRunning`), ``write()`` once the processes
    run, ``release()`` at the very end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def claim(self, record: DemoRecord) -> None:
        """Take the file for this demo and write ``record`` (the supervisor alone, so far)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(file)
            file.close()
            raise DemoRunning(holder or _unknown(self.path), supervisor_alive=True) from None
        previous = _read(file)
        if previous is not None and any(child.alive() for child in previous.children):
            file.close()
            raise DemoRunning(previous, supervisor_alive=False)
        self._file = file
        self.write(record)

    def write(self, record: DemoRecord) -> None:
        if self._file is None:
            raise RuntimeError("write() before claim()")
        self._file.seek(0)
        self._file.truncate()
        self._file.write(record.dumps())
        self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            self._file.close()
            self._file = None


def _read(file: IO[str]) -> DemoRecord | None:
    file.seek(0)
    return DemoRecord.loads(file.read())


def _unknown(path: Path) -> DemoRecord:
    """A lock held by a supervisor that has not written its record yet (it is starting)."""
    return DemoRecord(Running("supervisor", 0), str(path.parent.parent.resolve()), "just now")


def own_record(directory: Path, since: str, children: list[Running]) -> DemoRecord:
    """The record of this process as the supervisor."""
    return DemoRecord(Running.of("supervisor", os.getpid()), str(directory.resolve()), since, tuple(children))
