"""Structured logging: one JSON object per line on stdout, or a readable console line
when stdout is a terminal. One canonical line per unit of work (a request, a batch).

Usage: ``log.info("request", extra={"fields": {...}})``; the fields become keys.
Hot paths use ``info_line(log, "request", {...})``, the same line written faster.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from common.environ import Environ

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS = ("auto", "json", "console")


@dataclass(frozen=True, slots=True)
class LogSettings:
    """``REGBRIDGE_LOG_LEVEL`` (DEBUG, INFO, WARNING, ERROR) and ``REGBRIDGE_LOG_FORMAT``
    (``auto``: console on a terminal, else JSON; ``json``; ``console``), the same for every
    process and checked when read."""

    level: str = "INFO"
    format: str = "auto"

    @classmethod
    def from_environ(cls, env: Environ) -> LogSettings:
        return cls(
            level=env.choice("LOG_LEVEL", "INFO", LEVELS, upper=True),
            format=env.choice("LOG_FORMAT", "auto", FORMATS),
        )


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(_fields(record))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        pairs = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        text = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()} {pairs}".rstrip()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes without a flush (a syscall) per line: flushes when ``interval`` seconds
    passed since the last flush, on warnings and errors, and whenever :func:`flush_logs`
    runs (a server calls it periodically and at exit). For hot paths that log one line
    per request; a crash may lose the last ``interval`` seconds of lines."""

    def __init__(self, stream: Any, interval: float = 0.2) -> None:
        super().__init__(stream)
        self.interval = interval
        self._last_flush = time.monotonic()
        self._second = -1
        self._second_text = ""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)
            return
        now = time.monotonic()
        if record.levelno >= logging.WARNING or now - self._last_flush >= self.interval:
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        super().flush()

    def write_fields(self, name: str, msg: str, fields: dict[str, Any]) -> bool:
        """Write an INFO line without a LogRecord when the format is JSON (same keys as
        :class:`JsonFormatter`); False when the caller must log the usual way."""
        if not isinstance(self.formatter, JsonFormatter):
            return False
        line = {"ts": self._stamp(time.time()), "level": "info", "logger": name, "msg": msg, **fields}
        text = orjson.dumps(line, default=str).decode() + self.terminator
        with self.lock:  # type: ignore[union-attr]  # made by Handler.__init__
            self.stream.write(text)
        if time.monotonic() - self._last_flush >= self.interval:
            self.flush()
        return True

    def _stamp(self, now: float) -> str:
        """What JsonFormatter writes for ``ts``, with the date part cached per second."""
        second = int(now)
        if second != self._second:
            self._second = second
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._second_text}.{int((now - second) * 1000):03d}+00:00"


def info_line(logger: logging.Logger, msg: str, fields: dict[str, Any]) -> None:
    """``logger.info(msg, extra={"fields": fields})``, on a fast path for the one line per
    request: when the only handler is the root's buffered JSON one, no LogRecord is made."""
    if not logger.isEnabledFor(logging.INFO):
        return
    handlers = logging.root.handlers
    if len(handlers) == 1 and not logger.handlers and logger.propagate and not logger.filters:
        handler = handlers[0]
        if isinstance(handler, BufferedStreamHandler) and handler.write_fields(logger.name, msg, fields):
            return
    logger.info(msg, extra={"fields": fields})


def flush_logs() -> None:
    """Flush every handler of the root logger (see :class:`BufferedStreamHandler`)."""
    for handler in logging.getLogger().handlers:
        handler.flush()


def configure_logging(settings: LogSettings, *, buffered: bool = False, stream: TextIO | None = None) -> None:
    """Log to stdout (or ``stream``: a command whose stdout is its result logs to stderr) as
    ``settings`` say. ``buffered``: see :class:`BufferedStreamHandler` (never on a TTY)."""
    out = stream or sys.stdout
    level, fmt = settings.level, settings.format
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    # Our formatters never print the caller, thread or process: don't collect them
    # (the logging HOWTO's "Optimization" section; findCaller walks the whole stack).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    use_buffer = buffered and not out.isatty()
    handler = BufferedStreamHandler(out) if use_buffer else logging.StreamHandler(out)
    handler.setFormatter(ConsoleFormatter() if use_console else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
