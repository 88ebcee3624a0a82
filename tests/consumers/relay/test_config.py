"""The subscription file: a good file reads into settings; a bad one names its line and field."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from common.environ import ConfigError
from consumers.relay.config import PayloadFormat, load_config, parse_config
from consumers.relay.retry import RetryPolicy

GOOD = """\
subscriptions:
  - name: deployer
    url: https://deploy.internal/hooks/registry
    topics: [push]
    actions: [push]
    filters:
      repository: ["team-a/*", "base/*"]
      tag: '^v[0-9]+'
      media_types: application/vnd.oci.image.manifest.v1+json
      manifests_only: true
    headers:
      Authorization: Bearer abc
    secret_env: DEPLOY_SECRET
    timeout: 2.5s
    retry: {initial: 250ms, max_delay: 1m, max_attempts: 5, max_age: 1h}
    format: cloudevent
  - name: scanner
    url: http://scanner:8080/
"""


def parse(text: str, environ: dict[str, str] | None = None) -> object:
    return parse_config(textwrap.dedent(text), "relay.yaml", environ or {})


def test_a_complete_file_reads_into_settings() -> None:
    config = parse_config(GOOD, "relay.yaml", {"DEPLOY_SECRET": " s3cret\n"})
    deployer, scanner = config.subscriptions
    assert deployer.name == "deployer" and deployer.url == "https://deploy.internal/hooks/registry"
    assert deployer.topics == ("push",) and deployer.actions == ("push",)
    assert deployer.filters.repositories == ("team-a/*", "base/*")
    assert deployer.filters.tag is not None and deployer.filters.tag.pattern == "^v[0-9]+"
    assert deployer.filters.media_types == ("application/vnd.oci.image.manifest.v1+json",)
    assert deployer.filters.manifests_only is True
    assert deployer.headers == (("Authorization", "Bearer abc"),)
    assert deployer.secret == "s3cret" and "s3cret" not in repr(deployer)
    assert deployer.timeout == 2.5
    assert deployer.retry == RetryPolicy(initial=0.25, max_delay=60, max_attempts=5, max_age=3600)
    assert deployer.payload is PayloadFormat.CLOUDEVENT
    assert scanner.topics == ("push", "pull", "other") and scanner.actions == ()
    assert scanner.secret is None and scanner.payload is PayloadFormat.REGISTRY
    assert config.named("scanner") is scanner


def test_an_unknown_top_level_field_is_named() -> None:
    text = "subscriptions:\n  - name: a\n    url: http://a/\ndefaults:\n  timeout: 3\n"
    with pytest.raises(ConfigError, match=r"^relay.yaml:4: defaults: unknown field"):
        parse_config(text, "relay.yaml", {})


def test_merge_keys_apply_inside_subscriptions(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    text = f"""\
    subscriptions:
      - &base
        name: a
        url: http://a/
        timeout: 3
        retry: {{max_attempts: 2}}
        secret_file: {secret}
      - <<: *base
        name: b
    """
    config = parse_config(textwrap.dedent(text), "relay.yaml", {})
    a, b = config.subscriptions
    assert (a.secret, b.secret) == ("from-file", "from-file")
    assert b.timeout == 3 and b.retry.max_attempts == 2 and b.url == "http://a/"


A = "subscriptions:\n  - name: a\n    url: http://a/\n"
BAD = [
    ("subscriptions: [\n  {name: a,\n", 3, "not valid YAML"),
    ("", 1, "empty"),
    ("subscriptions: []\n", 1, "subscriptions: must list at least one"),
    ("other: 1\n", 1, "subscriptions: is required"),
    (
        A + "    retyr: {}\n",
        4,
        "subscriptions[0].retyr: unknown field",
    ),
    ("subscriptions:\n  - url: http://a/\n", 2, "subscriptions[0].name: is required"),
    (
        "subscriptions:\n  - name: a\n    url: ftp://a/\n",
        3,
        "subscriptions[0].url: 'ftp://a/' must be an absolute",
    ),
    (
        A + "  - name: b\n    url: http://b/\n    retry:\n      max_attempts: zero\n",
        7,
        "subscriptions[1].retry.max_attempts: must be a whole number",
    ),
    (
        A + "    timeout: soon\n",
        4,
        "subscriptions[0].timeout: must be a duration",
    ),
    (
        A + "    timeout: -1\n",
        4,
        "subscriptions[0].timeout: must be more",
    ),
    (
        A + "    filters:\n      tag: '(v'\n",
        5,
        "subscriptions[0].filters.tag: '(v' is not a valid regular expression",
    ),
    (
        A + "    filters:\n      manifests_only: maybe\n",
        5,
        "subscriptions[0].filters.manifests_only: must be true or false",
    ),
    (
        A + "    format: xml\n",
        4,
        "subscriptions[0].format: 'xml' is not one of",
    ),
    (
        A + "    secret: x\n    secret_env: Y\n",
        5,
        "subscriptions[0].secret_env: give only one of secret, secret_env",
    ),
    (
        A + "    secret_env: NOPE\n",
        4,
        "environment variable NOPE is not set",
    ),
    (
        A + "    secret_file: /nonexistent/x\n",
        4,
        "secret_file: /nonexistent/x cannot",
    ),
    ("subscriptions:\n  - name: a b\n    url: http://a/\n", 2, "subscriptions[0].name: 'a b' must be"),
    (
        A + "  - name: a\n    url: http://b/\n",
        4,
        "subscriptions[1].name: 'a' is used by another",
    ),
    (
        "subscriptions:\n  - name: a\n    name: b\n    url: http://a/\n",
        3,
        "subscriptions[0].name: appears twice",
    ),
    (
        A + "    actions: [Push!]\n",
        4,
        "subscriptions[0].actions: 'Push!' is not",
    ),
    (
        "subscriptions:\n  - name: a\n    url: [http://a/]\n",
        3,
        "subscriptions[0].url: must be a single value",
    ),
    (
        A + "    headers: {Host: x}\n",
        4,
        "subscriptions[0].headers.Host",
    ),
    (
        A + "    headers:\n      Authorization: Bearer t\n      X-Registry-Event-Id: x\n",
        6,
        "subscriptions[0].headers.X-Registry-Event-Id: is not a header",
    ),
    ("subscriptions:\n  name: a\n", 2, "subscriptions: must be a list"),
    ("subscriptions:\n  - just-a-string\n", 2, "subscriptions[0]: must be a mapping"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD, ids=[m for _t, _l, m in BAD])
def test_errors_name_the_line_and_the_field(text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "relay.yaml", {})
    assert str(caught.value).startswith(f"relay.yaml:{line}: "), str(caught.value)
    assert message in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "none.yaml")) + ": cannot be read"):
        load_config(tmp_path / "none.yaml", {})


def test_the_documented_example_parses() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "relay.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    env = {"DEPLOYER_HOOK_SECRET": "d", "SCANNER_HOOK_SECRET": "s"}
    config = parse_config(example, "docs/relay.md", env)
    deployer, scanner, scanner_eu = config.subscriptions
    assert deployer.filters.tag is not None and deployer.filters.tag.search("v1.2")
    assert deployer.retry == RetryPolicy(initial=0.5, max_delay=30, max_attempts=8, max_age=600)
    assert (scanner.secret, scanner_eu.secret) == ("s", "s")
    assert scanner_eu.url != scanner.url and scanner_eu.filters.manifests_only


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), "relay.yaml", {})
    return str(caught.value).splitlines()


def test_every_error_is_reported_in_line_order() -> None:
    """The issue's file: ``max_attempts: ten`` on line 5 used to be passed over for line 6."""
    found = problems_of(
        """\
        subscriptions:
          - name: hook
            url: http://hook/
            retry:
              max_attempts: ten
            timeout: soon
          - name: bad name
            url: ftp://x/
            filters: {manifests_only: maybe, tagg: v1}
            headers: {Host: x, X-Team: a}
            secret: x
            secret_env: Y
        """
    )
    assert [line.split(":")[1] for line in found] == ["5", "6", "7", "8", "9", "9", "10", "12"], found
    assert "subscriptions[0].retry.max_attempts: must be a whole number" in found[0]
    assert "subscriptions[0].timeout: must be a duration" in found[1]
    assert "subscriptions[1].name: 'bad name' must be" in found[2]
    assert "subscriptions[1].url: 'ftp://x/' must be an absolute" in found[3]
    assert "subscriptions[1].filters.manifests_only: must be true or false" in found[4]
    assert "subscriptions[1].filters.tagg: unknown field; did you mean 'tag'?" in found[5]
    assert "subscriptions[1].headers.Host: is not a header name" in found[6]
    assert "subscriptions[1].secret_env: give only one of secret, secret_env" in found[7]


def test_a_misspelt_top_level_key_is_named_with_the_key_it_means() -> None:
    found = problems_of("subscription:\n  - name: a\n    url: http://a/\n")
    assert found == [
        "relay.yaml:1: subscription: unknown field; did you mean 'subscriptions'? (subscriptions is required)"
    ]


def test_a_misspelt_key_suggests_the_nearest_known_one() -> None:
    found = problems_of(A + "    retyr: {}\n    timeuot: 3\n    colour: red\n")
    assert found[0] == "relay.yaml:4: subscriptions[0].retyr: unknown field; did you mean 'retry'?"
    assert found[1] == "relay.yaml:5: subscriptions[0].timeuot: unknown field; did you mean 'timeout'?"
    assert found[2].startswith("relay.yaml:6: subscriptions[0].colour: unknown field (known: name, url,")


def test_duplicate_names_and_keys_are_all_reported() -> None:
    found = problems_of(
        A + "  - name: a\n    url: http://b/\n  - name: c\n    url: http://c/\n    url: http://d/\n"
    )
    assert found == [
        "relay.yaml:4: subscriptions[1].name: 'a' is used by another subscription",
        "relay.yaml:8: subscriptions[2].url: appears twice",
    ]
