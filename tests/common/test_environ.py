from __future__ import annotations

from pathlib import Path

import pytest

from common.environ import ConfigError, Environ


def test_typed_values_and_defaults() -> None:
    env = Environ({"REGBRIDGE_N": "5", "REGBRIDGE_F": "0.5", "REGBRIDGE_B": "yes", "REGBRIDGE_L": "a, b,,c"})
    assert env.integer("N", 1) == 5
    assert env.integer("MISSING", 7) == 7
    assert env.number("F", 1.0) == 0.5
    assert env.flag("B") is True
    assert env.items("L") == ("a", "b", "c")


@pytest.mark.parametrize(
    ("environ", "call", "message"),
    [
        ({"REGBRIDGE_N": "x"}, lambda e: e.integer("N", 1), "REGBRIDGE_N='x' is not an integer"),
        ({"REGBRIDGE_N": "0"}, lambda e: e.integer("N", 1, minimum=1), "REGBRIDGE_N=0 must be at least 1"),
        ({"REGBRIDGE_F": "?"}, lambda e: e.number("F", 1.0), "REGBRIDGE_F='?' is not a number"),
        ({"REGBRIDGE_B": "maybe"}, lambda e: e.flag("B"), "REGBRIDGE_B='maybe' is not a boolean"),
        ({}, lambda e: e.required("R"), "REGBRIDGE_R is required"),
        ({"REGBRIDGE_M": "a=1,b"}, lambda e: e.pairs("M", {}), "REGBRIDGE_M: 'b' is not key=value"),
    ],
)
def test_errors_name_the_variable(environ: dict[str, str], call: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("?", r"\?")):
        call(Environ(environ))  # type: ignore[operator]


def test_secret_list_from_file(tmp_path: Path) -> None:
    secret = tmp_path / "tokens"
    secret.write_text("one\ntwo, three\n")
    env = Environ({"REGBRIDGE_AUTH_TOKENS_FILE": str(secret), "REGBRIDGE_AUTH_TOKENS": "ignored"})
    assert env.secrets("AUTH_TOKENS") == ("one", "two", "three")
    with pytest.raises(ConfigError, match="REGBRIDGE_AUTH_TOKENS_FILE"):
        Environ({"REGBRIDGE_AUTH_TOKENS_FILE": str(tmp_path / "none")}).secrets("AUTH_TOKENS")
