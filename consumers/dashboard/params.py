"""Reading the API's query parameters: pages, time windows, steps and filters.

Every parser raises :class:`BadQuery` (a ``ValueError``) with a message that names the
parameter; the app turns it into a ``400`` JSON answer. Nothing here touches the store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DEFAULT_RANGE = "1h"
MAX_BUCKETS = 1500
STEPS: Mapping[str, timedelta] = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
_RANGE = re.compile(r"^(\d{1,5})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}

Clock = Callable[[], datetime]


class BadQuery(ValueError):
    """A query parameter is malformed or out of range; the message names it."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time interval ``[since, until)``, both timezone-aware UTC."""

    since: datetime
    until: datetime

    def as_json(self) -> dict[str, str]:
        return {"since": iso(self.since), "until": iso(self.until)}


def iso(moment: datetime) -> str:
    """``2026-11-29T02:03:04Z``: UTC, whole seconds or more precise when needed."""
    text = as_utc(moment).isoformat()
    return text.removesuffix("+00:00") + "Z"


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive value (SQLite hands those back) is read as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def integer(
    query: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    text = query.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadQuery(f"{name}={text!r} is not an integer") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise BadQuery(f"{name}={value} must be at least {minimum}{upper}")
    return value


def timestamp(query: Mapping[str, str], name: str) -> datetime | None:
    """An RFC 3339 time (``Z`` or an offset; a bare time is read as UTC)."""
    text = query.get(name, "").strip()
    if not text:
        return None
    try:
        return as_utc(datetime.fromisoformat(text.replace("z", "Z")))
    except ValueError:
        raise BadQuery(f"{name}={text!r} is not an RFC 3339 time") from None


def duration(text: str, name: str = "range") -> timedelta:
    """``15m``, ``6h``, ``7d``."""
    match = _RANGE.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise BadQuery(f"{name}={text!r} is not a duration like 15m, 6h or 7d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def window(query: Mapping[str, str], clock: Clock, default_range: str = DEFAULT_RANGE) -> Window:
    """``since``/``until`` when given; otherwise ``range`` back from ``until`` (or now)."""
    until = timestamp(query, "until") or as_utc(clock())
    since = timestamp(query, "since")
    if since is None:
        since = until - duration(query.get("range", "") or default_range)
    if since >= until:
        raise BadQuery(f"since={iso(since)} must be before until={iso(until)}")
    return Window(since=since, until=until)


def step(query: Mapping[str, str], span: Window, finest: str = "minute") -> str:
    """``minute``, ``hour`` or ``day``; by default the finest that fits in MAX_BUCKETS and
    is not finer than ``finest`` (the buckets the store still keeps for this window)."""
    name = query.get("step", "").strip()
    allowed = list(STEPS)[list(STEPS).index(finest) :]
    if not name:
        name = next(s for s in allowed if (span.until - span.since) / STEPS[s] <= MAX_BUCKETS or s == "day")
    if name not in STEPS:
        raise BadQuery(f"step={name!r} is not one of {', '.join(STEPS)}")
    if (span.until - span.since) / STEPS[name] > MAX_BUCKETS:
        raise BadQuery(
            f"step={name} gives more than {MAX_BUCKETS} buckets for this window; use a coarser step"
        )
    if name not in allowed:
        raise BadQuery(
            f"step={name}: the store no longer keeps {name} buckets for this window "
            f"(REGBRIDGE_RETENTION_* pruned them); use step={finest} or coarser"
        )
    return name


def choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = query.get(name, "").strip() or default
    if value not in allowed:
        raise BadQuery(f"{name}={value!r} is not one of {', '.join(allowed)}")
    return value


def text_filter(query: Mapping[str, str], name: str) -> str | None:
    """An exact-match filter; blank means "any"."""
    value = query.get(name, "").strip()
    if len(value) > 512:
        raise BadQuery(f"{name} is longer than 512 characters")
    return value or None


def floor_to(moment: datetime, step_name: str) -> datetime:
    """The start of the ``step_name`` bucket holding ``moment`` (UTC)."""
    moment = as_utc(moment)
    if step_name == "minute":
        return moment.replace(second=0, microsecond=0)
    if step_name == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def bucket_starts(span: Window, step_name: str) -> list[datetime]:
    """Every bucket start from the one holding ``since`` to the one holding ``until``."""
    width = STEPS[step_name]
    current, last = floor_to(span.since, step_name), span.until
    starts: list[datetime] = []
    while current < last:
        starts.append(current)
        current += width
    return starts
