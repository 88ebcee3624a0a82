"""Signatures: what the relay signs verifies, independently recomputed too; anything else fails."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
from pathlib import Path

import pytest

from consumers.relay.signing import InvalidSignature, sign, signature_hex, verify

BODY = b'{"events":[{"id":"1"}]}'


def independent(secret: bytes, header: str, body: bytes) -> bool:
    """The documented receiver recipe, written again without the relay's code."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(secret, parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def test_a_signature_verifies_both_ways() -> None:
    header = sign("k3y", BODY, timestamp=1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert verify("k3y", header, BODY, now=1_700_000_010) == 1_700_000_000
    assert independent(b"k3y", header, BODY)


@pytest.mark.parametrize(
    ("header", "secret", "body", "now", "reason"),
    [
        (None, "k3y", BODY, 1_700_000_000, "no X-Registry-Signature"),
        ("v1=abc", "k3y", BODY, 1_700_000_000, "exactly one numeric t="),
        ("t=1700000000", "k3y", BODY, 1_700_000_000, "no v1="),
        ("SIGNED", "wrong", BODY, 1_700_000_000, "no signature matches"),
        ("SIGNED", "k3y", BODY + b" ", 1_700_000_000, "no signature matches"),
        ("SIGNED", "k3y", BODY, 1_700_000_301, "outside the 300 s tolerance"),
        ("SIGNED", "k3y", BODY, 1_699_999_699, "outside the 300 s tolerance"),
    ],
)
def test_anything_else_fails(header: str | None, secret: str, body: bytes, now: float, reason: str) -> None:
    if header == "SIGNED":
        header = sign("k3y", BODY, timestamp=1_700_000_000)
    with pytest.raises(InvalidSignature, match=reason):
        verify(secret, header, body, now=now)


def test_a_timestamp_cannot_be_swapped() -> None:
    header = sign("k3y", BODY, timestamp=1_700_000_000)
    forged = header.replace("t=1700000000", "t=1700000100")
    with pytest.raises(InvalidSignature, match="no signature matches"):
        verify("k3y", forged, BODY, now=1_700_000_100)


def test_any_of_several_signatures_may_match() -> None:
    good = signature_hex("new", 1_700_000_000, BODY)
    header = f"t=1700000000,v1={'0' * 64},v1={good}"
    assert verify(b"new", header, BODY, now=1_700_000_000) == 1_700_000_000


DOC_SCRIPT = Path(__file__).resolve().parents[3] / "docs" / "verify-signature.sh"


@pytest.mark.parametrize(
    ("secret", "body", "expect"),
    [("k3y", BODY, 0), ("wrong", BODY, 1), ("k3y", BODY + b"!", 1)],
)
def test_the_documented_openssl_recipe(tmp_path: Path, secret: str, body: bytes, expect: int) -> None:
    header = sign("k3y", BODY)
    (tmp_path / "body").write_bytes(body)
    env = {**os.environ, "SECRET": secret}
    result = subprocess.run(
        ["sh", str(DOC_SCRIPT), header, str(tmp_path / "body")], env=env, capture_output=True
    )
    assert result.returncode == expect, result.stderr


def test_the_openssl_recipe_refuses_an_old_timestamp(tmp_path: Path) -> None:
    (tmp_path / "body").write_bytes(BODY)
    header = sign("k3y", BODY, timestamp=1_700_000_000)
    env = {**os.environ, "SECRET": "k3y"}
    result = subprocess.run(
        ["sh", str(DOC_SCRIPT), header, str(tmp_path / "body")], env=env, capture_output=True
    )
    assert result.returncode == 1 and b"too old" in result.stderr
