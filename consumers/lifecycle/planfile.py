"""A plan on disk and on a terminal: the JSON form ``cleanup plan --out`` writes and
``cleanup apply`` reads back, and the table a person reads.

The JSON form (``"format": "registry-kafka-bridge cleanup plan"``, ``"version": 1``)::

    {"format": "…", "version": 1, "created_at": "2026-12-01T10:00:00+00:00",
     "policy": {"source": "policy.yaml", "sha256": "…"}, "bytes_freed": 1234,
     "delete": [{"repository", "digest", "tags", "reason", "bytes_freed",
                 "last_pushed_at", "media_type", "rule"}, …],
     "keep": [{"repository", "digest", "tags", "reason", "rule"}, …]}

Reading checks all of it: a file that is not JSON, not a plan, of another version or
with a malformed entry raises :class:`PlanFileError` (a ``ConfigError``: exit 2) naming
the file and the entry.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from common.environ import ConfigError
from consumers.lifecycle.plan import Deletion, Kept, Plan

FORMAT = "registry-kafka-bridge cleanup plan"
VERSION = 1


class PlanFileError(ConfigError):
    """The plan file cannot be read, or is not a plan this version can apply."""


def plan_document(plan: Plan) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "created_at": plan.created_at.isoformat(),
        "policy": {"source": plan.policy_source, "sha256": plan.policy_sha256},
        "bytes_freed": plan.bytes_freed,
        "delete": [
            {
                "repository": d.repository,
                "digest": d.digest,
                "tags": list(d.tags),
                "reason": d.reason,
                "bytes_freed": d.bytes_freed,
                "last_pushed_at": d.last_pushed_at.isoformat(),
                "media_type": d.media_type,
                "rule": d.rule,
            }
            for d in plan.delete
        ],
        "keep": [
            {
                "repository": k.repository,
                "digest": k.digest,
                "tags": list(k.tags),
                "reason": k.reason,
                "rule": k.rule,
            }
            for k in plan.keep
        ],
    }


def plan_json(plan: Plan) -> bytes:
    return orjson.dumps(plan_document(plan), option=orjson.OPT_INDENT_2) + b"\n"


def write_plan(plan: Plan, path: Path) -> None:
    path.write_bytes(plan_json(plan))


def read_plan(path: Path) -> Plan:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read the plan: {exc.strerror or exc}") from None
    return parse_plan(data, str(path))


def parse_plan(data: bytes, source: str) -> Plan:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise PlanFileError(f"{source}: not a plan (not JSON: {exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise PlanFileError(f"{source}: not a plan made by `registry-consumer cleanup plan --out`")
    if document.get("version") != VERSION:
        raise PlanFileError(
            f"{source}: a plan of version {document.get('version')!r}; this version applies version "
            f"{VERSION}: make the plan again with this version"
        )
    reader = _Reader(source)
    policy = reader.mapping(document, "policy", "")
    delete = reader.items(document, "delete")
    keep = reader.items(document, "keep")
    return Plan(
        created_at=reader.time(document, "created_at", ""),
        policy_source=reader.text(policy, "source", "policy."),
        policy_sha256=reader.text(policy, "sha256", "policy."),
        delete=tuple(reader.deletion(entry, f"delete[{n}].") for n, entry in enumerate(delete)),
        keep=tuple(reader.kept(entry, f"keep[{n}].") for n, entry in enumerate(keep)),
        bytes_freed=reader.integer(document, "bytes_freed", ""),
    )


class _Reader:
    """Typed fields of the decoded document; a bad one raises naming its path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def bad(self, where: str, problem: str) -> PlanFileError:
        return PlanFileError(f"{self.source}: {where}: {problem}")

    def value(self, entry: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...]) -> Any:
        found = entry.get(key)
        if not isinstance(found, kind) or isinstance(found, bool):
            raise self.bad(where + key, "missing or of the wrong type")
        return found

    def mapping(self, entry: dict[str, Any], key: str, where: str) -> dict[str, Any]:
        return dict(self.value(entry, key, where, dict))

    def items(self, document: dict[str, Any], key: str) -> list[dict[str, Any]]:
        found = self.value(document, key, "", list)
        for n, entry in enumerate(found):
            if not isinstance(entry, dict):
                raise self.bad(f"{key}[{n}]", "must be an object")
        return list(found)

    def text(self, entry: dict[str, Any], key: str, where: str) -> str:
        return str(self.value(entry, key, where, str))

    def optional_text(self, entry: dict[str, Any], key: str, where: str) -> str | None:
        return None if entry.get(key) is None else self.text(entry, key, where)

    def integer(self, entry: dict[str, Any], key: str, where: str) -> int:
        return int(self.value(entry, key, where, int))

    def tags(self, entry: dict[str, Any], where: str) -> tuple[str, ...]:
        found = self.value(entry, "tags", where, list)
        if not all(isinstance(tag, str) for tag in found):
            raise self.bad(where + "tags", "must be a list of tags")
        return tuple(found)

    def time(self, entry: dict[str, Any], key: str, where: str) -> datetime:
        text = self.text(entry, key, where)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise self.bad(where + key, f"not a time: {text!r}") from None
        if moment.tzinfo is None:
            raise self.bad(where + key, f"a time without its zone: {text!r}")
        return moment

    def deletion(self, entry: dict[str, Any], where: str) -> Deletion:
        return Deletion(
            repository=self.text(entry, "repository", where),
            digest=self.text(entry, "digest", where),
            tags=self.tags(entry, where),
            reason=self.text(entry, "reason", where),
            bytes_freed=self.integer(entry, "bytes_freed", where),
            last_pushed_at=self.time(entry, "last_pushed_at", where),
            media_type=self.optional_text(entry, "media_type", where),
            rule=self.optional_text(entry, "rule", where),
        )

    def kept(self, entry: dict[str, Any], where: str) -> Kept:
        return Kept(
            repository=self.text(entry, "repository", where),
            digest=self.text(entry, "digest", where),
            tags=self.tags(entry, where),
            reason=self.text(entry, "reason", where),
            rule=self.optional_text(entry, "rule", where),
        )


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def short(digest: str) -> str:
    algorithm, _, hexits = digest.partition(":")
    return f"{algorithm}:{hexits[:12]}" if hexits else digest


def plan_table(plan: Plan) -> str:
    """Deletions, then what is kept, one line each, and the totals."""
    lines = [
        f"plan of {plan.created_at.isoformat()} from {plan.policy_source} (sha256 {plan.policy_sha256[:12]})"
    ]
    rows = [("ACTION", "REPOSITORY", "DIGEST", "TAGS", "FREES", "REASON")]
    for d in plan.delete:
        rows.append(
            ("delete", d.repository, short(d.digest), _tags(d.tags), human_bytes(d.bytes_freed), d.reason)
        )
    for k in plan.keep:
        rows.append(("keep", k.repository, short(k.digest), _tags(k.tags), "", k.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True)) + "  " + row[5]
        )
    lines.append(
        f"{len(plan.delete)} to delete, {len(plan.keep)} kept, "
        f"{human_bytes(plan.bytes_freed)} freed once the registry's garbage collection runs"
    )
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _tags(tags: tuple[str, ...]) -> str:
    return ",".join(tags) if tags else "(untagged)"
