"""The registry API client's pure parts: challenges, scopes, the rate limit, Link headers,
manifests and their digests, Retry-After, the settings."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from common.environ import ConfigError, Environ
from consumers.registry_api import BadContent, BadPagination, RegistrySettings
from consumers.registry_api.auth import parse_challenges, scope_key
from consumers.registry_api.client import checked_repository, registry_error, retry_after
from consumers.registry_api.manifests import check_digest, digest_of, parse_manifest
from consumers.registry_api.pagination import check_catalog_page, next_link
from consumers.registry_api.transport import RateLimit
from devstack.ociimage import build_image, build_index


def test_challenges_are_parsed_with_quoted_commas() -> None:
    header = 'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'
    [bearer] = parse_challenges([header])
    assert bearer.scheme == "bearer"
    assert bearer.params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:a/b:pull,push",
    }
    basic, second = parse_challenges(['Basic realm="x"', 'Bearer realm="r",error="insufficient_scope"'])
    assert (basic.scheme, basic.params) == ("basic", {"realm": "x"})
    assert second.params["error"] == "insufficient_scope"


def test_each_request_names_the_scope_it_needs() -> None:
    def key(method: str, path: str) -> str:
        return scope_key(httpx.Request(method, f"http://r{path}"))

    assert key("GET", "/v2/_catalog?n=100") == "registry:catalog:*"
    assert key("HEAD", "/v2/team/a/manifests/1.0") == "repository:team/a:pull"
    assert key("DELETE", "/v2/team/a/manifests/sha256:x") == "repository:team/a:delete"
    assert key("GET", "/v2/") == ""


def test_the_rate_limit_spaces_starts_evenly() -> None:
    now = [100.0]
    limit = RateLimit(4.0, clock=lambda: now[0])
    assert [limit.reserve() for _ in range(3)] == [0.0, 0.25, 0.5]
    now[0] = 101.0  # idle for a while: no burst is saved up
    assert limit.reserve() == 0.0 and limit.reserve() == 0.25
    assert RateLimit(0).reserve() == 0.0


def _answer(link: str, url: str = "http://registry:5000/v2/_catalog?n=2") -> httpx.Response:
    return httpx.Response(200, headers={"Link": link}, request=httpx.Request("GET", url))


def test_links_are_followed_on_the_same_host_and_endpoint_only() -> None:
    found = next_link(_answer('</v2/_catalog?last=b&n=2>; rel="next"'))
    assert str(found) == "http://registry:5000/v2/_catalog?last=b&n=2"
    assert next_link(_answer('</v2/_catalog?n=2>; rel="prev"')) is None
    with pytest.raises(BadPagination, match="another host"):
        next_link(_answer('<http://evil.example/v2/_catalog?last=b>; rel="next"'))
    with pytest.raises(BadPagination, match="another endpoint"):
        next_link(_answer('</v2/team/a/tags/list?last=b>; rel="next"'))
    check_catalog_page(["a", "b"], None, "where")
    with pytest.raises(BadPagination):
        check_catalog_page(["a", "b"], "b", "where")
    with pytest.raises(BadPagination):
        check_catalog_page(["b", "a"], None, "where")


def test_manifests_are_checked_against_their_digest_and_read() -> None:
    image = build_image("u", "unit", layers=2)
    body = image.manifest.data
    check_digest(body, image.digest, image.manifest.media_type, "x")
    with pytest.raises(BadContent, match="hash to"):
        check_digest(body + b" ", image.digest, image.manifest.media_type, "x")
    with pytest.raises(BadContent, match="not one of"):
        digest_of(body, "md5")
    content = parse_manifest(body, image.manifest.media_type, "x")
    assert content.kind == "image" and content.config and content.config.digest == image.config.digest
    assert [layer.digest for layer in content.layers] == [layer.digest for layer in image.layers]
    assert content.blobs_size == sum(len(b.data) for b in image.blobs)
    index = build_index("u", "unit")
    children = parse_manifest(index.index.data, None, "x").children
    assert [(c.digest, c.platform_architecture) for c in children] == [
        (index.images[0].digest, "amd64"),
        (index.images[1].digest, "arm64"),
    ]
    schema1 = {"schemaVersion": 1, "fsLayers": [{"blobSum": "sha256:b"}, {"blobSum": "sha256:a"}]}
    old = parse_manifest(
        orjson.dumps(schema1), "application/vnd.docker.distribution.manifest.v1+prettyjws", "x"
    )
    assert [layer.digest for layer in old.layers] == ["sha256:a", "sha256:b"] and old.blobs_size is None
    for bad in (b"not json", b"[]", b'{"layers": [{"size": 1}]}'):
        with pytest.raises(BadContent):
            parse_manifest(bad, None, "x")


def test_retry_after_reads_seconds_and_dates_and_errors_their_code() -> None:
    assert retry_after(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0
    dated = {"Retry-After": "Tue, 01 Dec 2026 10:00:05 GMT", "Date": "Tue, 01 Dec 2026 10:00:00 GMT"}
    assert retry_after(httpx.Response(503, headers=dated)) == 5.0
    assert retry_after(httpx.Response(503, headers={"Retry-After": "soon"})) == 0.0
    assert registry_error(b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}') == (
        "NAME_UNKNOWN: repository name not known"
    )
    assert registry_error(b"<html>") == ""
    assert checked_repository("team/a-b/c_d") == "team/a-b/c_d"
    for name in ("../etc", "Team/A", "a//b", ""):
        with pytest.raises(BadContent):
            checked_repository(name)


def settings(**env: str) -> RegistrySettings:
    return RegistrySettings.from_environ(
        Environ({f"REGBRIDGE_{k}": v for k, v in env.items()}), user_agent="t"
    )


def test_settings_name_the_variable_that_is_wrong(tmp_path: Path) -> None:
    assert settings(REGISTRY_URL="https://registry.example:5000/").url == "https://registry.example:5000"
    for url, why in [
        ("registry.example", "must be http"),
        ("http://u:p@registry", "not hold credentials"),
        ("http://registry/v2/", "no path"),
        ("http://registry:99999", "port"),
    ]:
        with pytest.raises(ConfigError, match=f"REGBRIDGE_REGISTRY_URL.*{why}"):
            settings(REGISTRY_URL=url)
    with pytest.raises(ConfigError, match="REGBRIDGE_REGISTRY_URL is required"):
        settings()
    with pytest.raises(ConfigError, match="USERNAME and REGBRIDGE_REGISTRY_PASSWORD"):
        settings(REGISTRY_URL="http://r", REGISTRY_USERNAME="bob")
    secret = tmp_path / "password"
    secret.write_text("pw\n")
    assert (
        settings(
            REGISTRY_URL="http://r", REGISTRY_USERNAME="bob", REGISTRY_PASSWORD_FILE=str(secret)
        ).password
        == "pw"
    )
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError, match="REGBRIDGE_REGISTRY_CA_FILE"):
        settings(REGISTRY_URL="https://r", REGISTRY_CA_FILE=str(bad))
