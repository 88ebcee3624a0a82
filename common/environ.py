"""Reading ``REGBRIDGE_*`` environment variables, with errors that name the variable.

Every process parses its settings once, at start-up, through :class:`Environ`, into a
frozen dataclass that is then passed down. Nothing else reads ``os.environ``.
The mapping is injectable, so tests pass a plain dict.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PREFIX = "REGBRIDGE_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A ``REGBRIDGE_`` variable is missing or malformed; the message names it."""


class Environ:
    """Typed access to ``REGBRIDGE_<NAME>`` variables of one mapping."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def raw(self, name: str) -> str | None:
        return self._environ.get(PREFIX + name)

    def variable(self, full_name: str) -> str | None:
        """Any variable by its full name, for settings files that name their own variables
        (the relay's ``secret_env``)."""
        return self._environ.get(full_name)

    def text(self, name: str, default: str = "") -> str:
        value = self.raw(name)
        return default if value is None else value.strip()

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise ConfigError(f"{PREFIX}{name} is required")
        return value

    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int:
        text = self.text(name)
        if not text:
            return default
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"{PREFIX}{name}={text!r} is not an integer") from None
        if minimum is not None and value < minimum:
            raise ConfigError(f"{PREFIX}{name}={value} must be at least {minimum}")
        return value

    def number(self, name: str, default: float, *, minimum: float | None = None) -> float:
        text = self.text(name)
        if not text:
            return default
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"{PREFIX}{name}={text!r} is not a number") from None
        if minimum is not None and value < minimum:
            raise ConfigError(f"{PREFIX}{name}={value} must be at least {minimum}")
        return value

    def port(self, name: str, default: int) -> int:
        """A TCP port, 0-65535 (0: the caller picks a free one, or serves none)."""
        text = self.text(name)
        if not text:
            return default
        if not text.isdigit() or int(text) > 65535:
            raise ConfigError(f"{PREFIX}{name}={text!r} is not a TCP port (0-65535)")
        return int(text)

    def choice(self, name: str, default: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
        """One of ``choices``, compared case-insensitively; returned upper- or lower-cased."""
        text = self.text(name, default)
        value = text.upper() if upper else text.lower()
        if value not in choices:
            raise ConfigError(f"{PREFIX}{name}={text!r} must be one of {', '.join(choices)}")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        text = self.raw(name)
        if text is None:
            return default
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"{PREFIX}{name}={text!r} is not a boolean (use true or false)")

    def items(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """A comma-separated list; blanks are dropped."""
        text = self.raw(name)
        if text is None:
            return default
        return tuple(part.strip() for part in text.split(",") if part.strip())

    def pairs(self, name: str, default: Mapping[str, str]) -> dict[str, str]:
        """``key=value,key=value``."""
        text = self.raw(name)
        if text is None:
            return dict(default)
        result: dict[str, str] = {}
        for part in (p.strip() for p in text.split(",") if p.strip()):
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ConfigError(f"{PREFIX}{name}: {part!r} is not key=value")
            result[key.strip()] = value.strip()
        return result

    def path(self, name: str, default: Path | None = None) -> Path | None:
        text = self.text(name)
        return Path(text) if text else default

    def secrets(self, name: str) -> tuple[str, ...]:
        """A comma-separated secret list from ``REGBRIDGE_<NAME>`` or from the file
        named by ``REGBRIDGE_<NAME>_FILE`` (one or more per line or comma-separated)."""
        text = self._secret_file(name)
        if text is not None:
            parts = text.replace("\n", ",").split(",")
            return tuple(p.strip() for p in parts if p.strip())
        return self.items(name)

    def secret(self, name: str) -> str:
        """One secret (a password: commas are kept) from ``REGBRIDGE_<NAME>`` or from the
        file named by ``REGBRIDGE_<NAME>_FILE``; surrounding whitespace and the final
        newline are dropped. ``""`` when neither is set."""
        text = self._secret_file(name)
        return (text if text is not None else self.raw(name) or "").strip()

    def _secret_file(self, name: str) -> str | None:
        """The text of the file named by ``REGBRIDGE_<NAME>_FILE``, None when unset."""
        file_name = self.text(name + "_FILE")
        if not file_name:
            return None
        try:
            return Path(file_name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
            raise ConfigError(f"{PREFIX}{name}_FILE={file_name!r} cannot be read: {why}") from None
