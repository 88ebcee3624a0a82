"""Bearer tokens, compared in constant time (``common.tokens``)."""

from __future__ import annotations

from common.tokens import TokenCheck, bearer_token


def test_token_check_accepts_every_configured_token_only() -> None:
    check = TokenCheck(["old", "new"])
    assert check.allows("Bearer old") and check.allows("bearer new") and check.allows("Bearer  new ")
    for header in (None, "", "Bearer", "Bearer wrong", "Basic old", "old", "Bearer oldx", "Bearer ol"):
        assert not check.allows(header), header
    assert TokenCheck([]).allows(None)
    assert bearer_token("Bearer abc") == b"abc"
