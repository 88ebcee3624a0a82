"""Reading ``compose/`` the way Docker Compose does, without Docker: the ``.env`` file, variable
interpolation (``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``,
``${VAR?error}``, ``$VAR`` and ``$$``), and YAML merge keys (PyYAML resolves those).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
SSO_OVERRIDE = COMPOSE_DIR / "oauth2-proxy.yaml"  # docker compose -f compose.yaml -f oauth2-proxy.yaml
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class InterpolationError(ValueError):
    """A required variable is unset (``${VAR:?message}``) or a ``$`` is malformed."""


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines; blank lines and ``#`` comments are skipped, quotes stripped."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}:{number}: not KEY=VALUE: {line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def variables_used(text: str) -> set[str]:
    """Every variable name the text interpolates (``$$`` escapes excluded)."""
    return {m.group("braced") or m.group("bare") for m in _VARIABLE.finditer(text) if not m.group("escaped")}


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Substitute variables in one string as Compose does."""

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("bare")
        value, op, arg = env.get(name), match.group("op"), match.group("arg") or ""
        unset_or_empty = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if (value is None if op == "-" else unset_or_empty) else str(value)
        if op in (":?", "?") and (value is None if op == "?" else unset_or_empty):
            raise InterpolationError(f"{name}: {arg or 'required'}")
        return value or ""

    if re.search(r"\$(?![$A-Za-z_{])", text):
        raise InterpolationError(f"a lone '$' in {text!r} (write $$ for a literal dollar)")
    return _VARIABLE.sub(substitute, text)


def interpolate_tree(value: Any, env: Mapping[str, str]) -> Any:
    """Interpolate every string of a parsed YAML tree (keys are left alone, as Compose does)."""
    if isinstance(value, str):
        return interpolate(value, env)
    if isinstance(value, list):
        return [interpolate_tree(item, env) for item in value]
    if isinstance(value, dict):
        return {key: interpolate_tree(item, env) for key, item in value.items()}
    return value


def load_compose(env: Mapping[str, str] | None = None, path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """A compose file (by default ``compose/compose.yaml``) parsed, merge keys resolved,
    interpolated with ``env`` (by default the example env file)."""
    raw = yaml.safe_load(path.read_text())
    if not isinstance(raw, dict):
        raise ValueError(f"{path} is not a mapping")
    document = interpolate_tree(raw, read_env_file(ENV_EXAMPLE) if env is None else env)
    assert isinstance(document, dict)
    return document


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``docker compose -f base -f override``, for what the override files here use: mappings
    merge key by key (``environment`` included), anything else in the override replaces."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            result[key] = merged(base[key], value)
        else:
            result[key] = value
    return result


def registry_config(document: Mapping[str, Any]) -> dict[str, Any]:
    """The registry's config, from the inline ``configs.registry-config.content``."""
    content = document["configs"]["registry-config"]["content"]
    config = yaml.safe_load(content)
    if not isinstance(config, dict):
        raise ValueError("the registry config is not a mapping")
    return config
