"""The relay's subscription file (``REGBRIDGE_RELAY_CONFIG``), read into frozen dataclasses.

Errors are a :class:`~consumers.yamlconfig.YamlFieldError` (a ``ConfigError``) listing
every problem of the file in line order, one per line, each naming the file, the line and
the field, e.g.
``relay.yaml:14: subscriptions[1].retry.max_attempts: must be a whole number of at least 1, got 'x'``;
a misspelt key names the known one it is closest to. The file format is documented in
``docs/relay.md``. A new field is one entry in its ``*_FIELDS`` tuple and one
``fields.get(...)`` line where the dataclass is built.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from yaml.nodes import Node

from consumers.relay.retry import RetryPolicy
from consumers.yamlconfig import (
    Fields,
    Problems,
    YamlFieldError,
    compose,
    fail,
    items_of,
    read_bool,
    read_count,
    read_regex,
    read_seconds,
    read_text,
    read_text_list,
)

DEFAULT_TOPICS = ("push", "pull", "other")
DEFAULT_TIMEOUT = 5.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_TOPIC = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_ACTION = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_RESERVED_HEADERS = {"content-type", "content-length", "host", "transfer-encoding"}
SUBSCRIPTION_FIELDS = (
    "name", "url", "topics", "actions", "filters", "headers", "secret", "secret_env",
    "secret_file", "timeout", "retry", "format", "include_reconcile",
)  # fmt: skip
SECRET_FIELDS = ("secret", "secret_env", "secret_file")
FILTER_FIELDS = ("repository", "tag", "media_types", "manifests_only")
RETRY_FIELDS = ("initial", "max_delay", "max_attempts", "max_age", "multiplier")


class PayloadFormat(StrEnum):
    """``registry``: the event object as the registry sent it. ``cloudevent``: a structured
    CloudEvents 1.0 JSON object with the event as ``data``."""

    REGISTRY = "registry"
    CLOUDEVENT = "cloudevent"


@dataclass(frozen=True, slots=True)
class Filters:
    """All given filters must match; an empty filter matches everything."""

    repositories: tuple[str, ...] = ()  # shell-style globs (fnmatch), any one may match
    tag: re.Pattern[str] | None = None  # searched in the tag; an event without a tag fails it
    media_types: tuple[str, ...] = ()  # exact media types, any one may match
    manifests_only: bool = False  # drop blob events


@dataclass(frozen=True, slots=True)
class Subscription:
    name: str
    url: str
    topics: tuple[str, ...] = DEFAULT_TOPICS
    actions: tuple[str, ...] = ()  # empty: every action
    filters: Filters = field(default_factory=Filters)
    headers: tuple[tuple[str, str], ...] = ()
    secret: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    payload: PayloadFormat = PayloadFormat.REGISTRY
    # also deliver the reconcile's observations (<prefix>.reconcile) and the pull events of its
    # own requests; off, so that a backfill of old images fires no deploy hooks (docs/relay.md)
    include_reconcile: bool = False


@dataclass(frozen=True, slots=True)
class RelayConfig:
    subscriptions: tuple[Subscription, ...]

    def named(self, name: str) -> Subscription:
        for subscription in self.subscriptions:
            if subscription.name == name:
                return subscription
        raise KeyError(name)


Lookup = Callable[[str], str | None]


def load_config(path: Path, environ: Mapping[str, str] | Lookup) -> RelayConfig:
    """Read the file at ``path``; ``environ`` (a mapping, or a function of the variable's
    name such as ``Environ.variable``) resolves ``secret_env``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise YamlFieldError(f"{path}: cannot be read: {exc.strerror}") from None
    return parse_config(text, str(path), environ)


def parse_config(text: str, source: str, environ: Mapping[str, str] | Lookup) -> RelayConfig:
    lookup = environ.get if isinstance(environ, Mapping) else environ
    root = Fields(compose(text, source), "", source)
    subscriptions = root.need("subscriptions", lambda node, path, _s: _subscriptions(node, path, _s, lookup))
    root.done(("subscriptions",))
    return RelayConfig(tuple(subscriptions))


def _subscriptions(node: Node, path: str, source: str, lookup: Lookup) -> list[Subscription]:
    """Every subscription of the list; the problems of all of them, if any."""
    items = items_of(node, path, source)
    problems = Problems()
    found: list[tuple[Subscription, str, Node]] = []
    for item_path, item in items:
        with problems.kept():
            found.append((_subscription(item, item_path, source, lookup), item_path, item))
    if not items:
        problems.add(fail(source, node, path, "must list at least one subscription"))
    seen: set[str] = set()
    for subscription, item_path, item in found:
        if subscription.name in seen:
            taken = f"{subscription.name!r} is used by another subscription"
            problems.add(fail(source, item, f"{item_path}.name", taken))
        seen.add(subscription.name)
    problems.raise_any()
    return [subscription for subscription, _path, _node in found]


def _subscription(node: Node, path: str, source: str, lookup: Lookup) -> Subscription:
    fields = Fields(node, path, source)
    subscription = Subscription(
        name=fields.need("name", _read_name),
        url=fields.need("url", _read_url),
        topics=fields.get("topics", _matching_list(_TOPIC, "a topic suffix such as push"), DEFAULT_TOPICS),
        actions=fields.get("actions", _matching_list(_ACTION, "an action such as push or delete"), ()),
        filters=fields.get("filters", _read_filters, Filters()),
        headers=fields.get("headers", _read_headers, ()),
        secret=_read_secret(fields, lookup),
        timeout=fields.get("timeout", read_seconds, DEFAULT_TIMEOUT),
        retry=fields.get("retry", _read_retry, RetryPolicy()),
        payload=fields.get("format", _read_format, PayloadFormat.REGISTRY),
        include_reconcile=fields.get("include_reconcile", read_bool, False),
    )
    fields.done(SUBSCRIPTION_FIELDS)
    return subscription


def _read_name(node: Node, path: str, source: str) -> str:
    name = read_text(node, path, source)
    if not _NAME.match(name):
        raise fail(source, node, path, f"{name!r} must be letters, digits, '-' or '_' (at most 63)")
    return name


def _read_url(node: Node, path: str, source: str) -> str:
    url = read_text(node, path, source)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(source, node, path, f"{url!r} must be an absolute http:// or https:// URL")
    return url


def _matching_list(pattern: re.Pattern[str], what: str) -> Callable[[Node, str, str], tuple[str, ...]]:
    def read(node: Node, path: str, source: str) -> tuple[str, ...]:
        values = read_text_list(node, path, source)
        for value in values:
            if not pattern.match(value):
                raise fail(source, node, path, f"{value!r} is not {what}")
        return values

    return read


def _read_headers(node: Node, path: str, source: str) -> tuple[tuple[str, str], ...]:
    fields = Fields(node, path, source)
    pairs: list[tuple[str, str]] = []
    for name in fields.names():
        reserved = name.lower() in _RESERVED_HEADERS or name.lower().startswith("x-registry-")
        if not _HEADER.match(name) or reserved:
            problem = "is not a header name the relay lets you set"
            fields.record(fail(source, fields.key(name), fields.field(name), problem))
            fields.optional(name)  # taken: not "unknown" as well
            continue
        pairs.append((name, fields.need(name, read_text)))
    fields.done(())
    return tuple(pairs)


def _read_secret(fields: Fields, lookup: Lookup) -> str | None:
    """The secret from ``secret``, ``secret_env`` or ``secret_file``; a problem is kept
    in ``fields`` (None then)."""
    try:
        return _secret(fields, lookup)
    except YamlFieldError as error:
        fields.record(error)
        for name in SECRET_FIELDS:
            fields.optional(name)  # taken: the problem is said once, not as "unknown" too
        return None


def _secret(fields: Fields, lookup: Lookup) -> str | None:
    given = [name for name in SECRET_FIELDS if name in fields.names()]
    if len(given) > 1:
        node = fields.required(given[1])
        raise fail(fields.source, node, fields.field(given[1]), f"give only one of {', '.join(given)}")
    if not given:
        return None
    name = given[0]
    node = fields.required(name)
    value = read_text(node, fields.field(name), fields.source)
    if name == "secret":
        return value
    if name == "secret_env":
        secret = (lookup(value) or "").strip()
        if not secret:
            raise fail(fields.source, node, fields.field(name), f"environment variable {value} is not set")
        return secret
    try:
        secret = Path(value).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise fail(
            fields.source, node, fields.field(name), f"{value} cannot be read: {exc.strerror}"
        ) from None
    if not secret:
        raise fail(fields.source, node, fields.field(name), f"{value} is empty")
    return secret


def _read_filters(node: Node, path: str, source: str) -> Filters:
    fields = Fields(node, path, source)
    filters = Filters(
        repositories=fields.get("repository", read_text_list, ()),
        tag=fields.get("tag", read_regex, None),
        media_types=fields.get("media_types", read_text_list, ()),
        manifests_only=fields.get("manifests_only", read_bool, False),
    )
    fields.done(FILTER_FIELDS)
    return filters


def _read_retry(node: Node, path: str, source: str) -> RetryPolicy:
    fields = Fields(node, path, source)
    defaults = RetryPolicy()
    policy = RetryPolicy(
        initial=fields.get("initial", read_seconds, defaults.initial),
        max_delay=fields.get("max_delay", read_seconds, defaults.max_delay),
        max_attempts=fields.get("max_attempts", read_count, defaults.max_attempts),
        max_age=fields.get("max_age", read_seconds, defaults.max_age),
        multiplier=fields.get("multiplier", _read_multiplier, defaults.multiplier),
    )
    fields.done(RETRY_FIELDS)
    return policy


def _read_multiplier(node: Node, path: str, source: str) -> float:
    value = read_seconds(node, path, source)
    if value < 1:
        raise fail(source, node, path, f"must be at least 1, got {node.value!r}")
    return value


def _read_format(node: Node, path: str, source: str) -> PayloadFormat:
    text = read_text(node, path, source)
    try:
        return PayloadFormat(text)
    except ValueError:
        choices = ", ".join(f.value for f in PayloadFormat)
        raise fail(source, node, path, f"{text!r} is not one of {choices}") from None
