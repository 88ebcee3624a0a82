"""The settings of ``POST /sources/<kind>/events`` (``docs/configuration.md``, "Other
registries"), read once at start-up through :class:`common.environ.Environ`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bridge.sources.pushtoken import JwksError, read_jwks
from common.contract import SOURCE_KINDS
from common.environ import PREFIX, ConfigError, Environ

URL_SECRET_KINDS = ("dockerhub", "quay")
_URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]{16,}$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def secret_variable(kind: str) -> str:
    """``SOURCE_<KIND>_SECRET``, without the ``REGBRIDGE_`` prefix."""
    return f"SOURCE_{kind.upper()}_SECRET"


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """Which kinds are enabled and what each is checked against."""

    kinds: tuple[str, ...] = ()
    secrets: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    """kind → (the secret, the previous one while rotating, when set)."""
    acr_header: str = "authorization"
    ecr_header: str = "x-api-key"
    gar_jwks_file: Path | None = None
    gar_audience: str = ""
    gar_emails: tuple[str, ...] = ()
    id_window: int = 300
    max_age: float = 0.0

    @classmethod
    def from_environ(cls, env: Environ) -> SourceSettings:
        kinds = tuple(dict.fromkeys(kind.lower() for kind in env.items("SOURCES")))
        unknown = [kind for kind in kinds if kind not in SOURCE_KINDS]
        if unknown:
            raise ConfigError(
                f"{PREFIX}SOURCES: unknown kind {', '.join(unknown)} (known: {', '.join(SOURCE_KINDS)})"
            )
        settings = cls(
            kinds=kinds,
            secrets={kind: _secrets(env, kind) for kind in kinds if kind != "gar"},
            acr_header=_header(env, "SOURCE_ACR_HEADER", "authorization"),
            ecr_header=_header(env, "SOURCE_ECR_HEADER", "x-api-key"),
            gar_jwks_file=env.path("SOURCE_GAR_JWKS_FILE"),
            gar_audience=env.text("SOURCE_GAR_AUDIENCE"),
            gar_emails=env.items("SOURCE_GAR_EMAILS"),
            id_window=env.integer("SOURCE_ID_WINDOW_SECONDS", 300, minimum=1),
            max_age=env.number("SOURCE_MAX_AGE_SECONDS", 0.0, minimum=0.0),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Every enabled kind has what it is checked against; raises :class:`ConfigError`."""
        for kind, secrets in self.secrets.items():
            name = PREFIX + secret_variable(kind)
            if not secrets or not secrets[0]:
                raise ConfigError(f"{name} (or {name}_FILE) is required when {kind} is in {PREFIX}SOURCES")
            if kind in URL_SECRET_KINDS and not all(_URL_SAFE.match(secret) for secret in secrets):
                raise ConfigError(
                    f"{name} goes in the webhook URL: use at least 16 characters of A-Z, a-z, 0-9, '.', "
                    "'_', '~', '-'"
                )
        if "gar" in self.kinds:
            self._check_gar()

    def _check_gar(self) -> None:
        if self.gar_jwks_file is None:
            raise ConfigError(f"{PREFIX}SOURCE_GAR_JWKS_FILE is required when gar is in {PREFIX}SOURCES")
        if not self.gar_audience:
            raise ConfigError(f"{PREFIX}SOURCE_GAR_AUDIENCE is required when gar is in {PREFIX}SOURCES")
        if not self.gar_emails:
            raise ConfigError(f"{PREFIX}SOURCE_GAR_EMAILS is required when gar is in {PREFIX}SOURCES")
        try:
            read_jwks(self.gar_jwks_file)
        except JwksError as exc:
            raise ConfigError(f"{PREFIX}SOURCE_GAR_JWKS_FILE: {exc}") from None


def _secrets(env: Environ, kind: str) -> tuple[str, ...]:
    """``SOURCE_<KIND>_SECRET``, then ``SOURCE_<KIND>_SECRET_PREVIOUS`` when set."""
    name = secret_variable(kind)
    current, previous = env.secret(name), env.secret(name + "_PREVIOUS")
    return (current, previous) if previous else (current,)


def _header(env: Environ, name: str, default: str) -> str:
    value = env.text(name, default)
    if not _HEADER_NAME.match(value):
        raise ConfigError(f"{PREFIX}{name}={value!r} is not an HTTP header name")
    return value.lower()
