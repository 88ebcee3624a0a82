"""Bearer tokens, compared in constant time (``common.tokens``)."""

from __future__ import annotations

import hmac
from hashlib import sha256

import pytest

from common.tokens import TokenCheck, TokenMatch, bearer_token


def test_token_check_accepts_every_configured_token_only() -> None:
    check = TokenCheck(["old", "new"])
    assert check.allows("Bearer old") and check.allows("bearer new") and check.allows("Bearer  new ")
    for header in (None, "", "Bearer", "Bearer wrong", "Basic old", "old", "Bearer oldx", "Bearer ol"):
        assert not check.allows(header), header
    assert TokenCheck([]).allows(None)
    assert bearer_token("Bearer abc") == b"abc"


def test_identify_says_which_labelled_token_matched_comparing_against_every_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check = TokenCheck.labelled({"viewer": ["v-one", "v-two"], "admin": ["a-one"]})
    calls: list[bytes] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append(b)
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    match = check.identify(b"v-two")
    assert match is not None and (match.label, match.fingerprint) == (
        "viewer",
        sha256(b"v-two").hexdigest()[:8],
    )
    assert "v-two" not in repr(match) and match.digest == sha256(b"v-two").digest()
    assert check.identify(b"a-one") == TokenMatch(
        "admin", sha256(b"a-one").hexdigest()[:8], sha256(b"a-one").digest()
    )
    assert check.identify(b"v-on") is None
    assert len(calls) == 9  # three tokens, three times: no early exit on a match
    assert check.digests("admin") == (sha256(b"a-one").digest(),)
    assert check.allows("Bearer a-one") and not check.allows("Bearer nope") and not check.anonymous
    assert TokenCheck(["t"]).identify(b"t") == TokenMatch(
        "", sha256(b"t").hexdigest()[:8], sha256(b"t").digest()
    )
