"""The other registries' samples (``shared/fixtures/other-registries/*.jsonl``) and what a
test needs to send them to a real bridge: its source settings, the URL of each sample,
and real Pub/Sub push tokens (a key made here, published as a JWKS file, signing tokens
with the claims of the fixtures' fake-signed ones)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from bridge.sources import SourceSettings
from tests.conftest import FIXTURES

SAMPLES_DIR = FIXTURES / "other-registries"
URL_SECRET = "url-secret-0123456789abcdef"
GAR_AUDIENCE = "https://bridge.acme.dev/ingest/gar"
GAR_EMAIL = "gar-push@acme-prod.iam.gserviceaccount.com"
KEY_ID = "test-key-1"


@dataclass(frozen=True)
class Sample:
    """One fixture line."""

    source: str
    format: str
    event: str
    headers: dict[str, str]
    body: str
    test_secret: str | None
    expected: list[dict[str, Any]]
    notes: str

    @property
    def name(self) -> str:
        return f"{self.format}-{self.event}"

    @property
    def is_image_event(self) -> bool:
        return self.event in ("push", "pull", "delete")

    def path(self, secret: str = URL_SECRET) -> str:
        if self.source in ("dockerhub", "quay"):
            return f"/sources/{self.source}/events/{secret}"
        return f"/sources/{self.source}/events"


def load_samples() -> list[Sample]:
    if not SAMPLES_DIR.is_dir():
        raise AssertionError(f"shared fixtures {SAMPLES_DIR} are missing")
    samples = []
    for path in sorted(SAMPLES_DIR.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                raw = json.loads(line)
                expected = raw["expected"] if isinstance(raw["expected"], list) else [raw["expected"]]
                samples.append(
                    Sample(
                        raw["source"],
                        raw["format"],
                        raw["event"],
                        raw["headers"],
                        raw["body"],
                        raw["test_secret"],
                        expected,
                        raw.get("notes", ""),
                    )
                )
    if not samples:
        raise AssertionError(f"no samples in {SAMPLES_DIR}")
    return samples


SAMPLES = load_samples()


def sample(format_name: str, event: str) -> Sample:
    return next(s for s in SAMPLES if s.format == format_name and s.event == event)


def secrets_for(source: str, samples: list[Sample] = SAMPLES) -> tuple[str, ...]:
    """The secrets the bridge is configured with for ``source``: its samples' ``test_secret``
    (two where the samples use two credentials: the secret and the previous one), or the
    URL secret for senders that have none."""
    if source in ("dockerhub", "quay"):
        return (URL_SECRET,)
    return tuple(sorted({s.test_secret for s in samples if s.source == source and s.test_secret}))


class PushTokens:
    """An RSA key of our own, its JWKS file, and tokens it signs."""

    def __init__(self, directory: Path) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=KEY_ID, alg="RS256", use="sig")
        self.jwks_file = directory / "google-certs.json"
        self.jwks_file.write_text(json.dumps({"keys": [jwk]}))

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        base: dict[str, Any] = {
            "aud": GAR_AUDIENCE,
            "azp": "115730492112387654321",
            "email": GAR_EMAIL,
            "email_verified": True,
            "iat": now,
            "exp": now + 3600,
            "iss": "https://accounts.google.com",
            "sub": "115730492112387654321",
        }
        base.update(claims)
        return jwt.encode(
            {k: v for k, v in base.items() if v is not None}, self.key, "RS256", {"kid": KEY_ID}
        )


def fixture_claims(authorization: str) -> dict[str, Any]:
    """The claims of a fixture's (fake-signed) token."""
    payload = authorization.split()[1].split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def request_headers(item: Sample, tokens: PushTokens | None = None) -> dict[str, str]:
    """The sample's headers; a GAR token re-signed with our key (same claims, fresh times)."""
    headers = dict(item.headers)
    if item.source == "gar" and tokens is not None:
        claims = fixture_claims(headers["Authorization"])
        now = int(time.time())
        headers["Authorization"] = "Bearer " + tokens.token(
            aud=claims["aud"], email=claims["email"], iat=now, exp=now + 3600
        )
    return headers


def source_settings(
    tokens: PushTokens | None, kinds: tuple[str, ...] | None = None, **extra: Any
) -> SourceSettings:
    """Every kind enabled (or ``kinds``), each with its samples' secret."""
    chosen = kinds or tuple(dict.fromkeys(s.source for s in SAMPLES))
    secrets = {kind: secrets_for(kind) for kind in chosen if kind != "gar"}
    gar: Mapping[str, Any] = {}
    if "gar" in chosen:
        assert tokens is not None
        gar = {"gar_jwks_file": tokens.jwks_file, "gar_audience": GAR_AUDIENCE, "gar_emails": (GAR_EMAIL,)}
    settings = SourceSettings(kinds=chosen, secrets=secrets, **gar, **extra)
    settings.check()
    return settings
