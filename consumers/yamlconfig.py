"""Reading a YAML file through its node tree, so that every error names a line and a field,
and a file with several mistakes gets all of them at once. Every YAML file the consumers
read goes through it: the relay's subscriptions (:mod:`consumers.relay.config`) and the
retention policy (:mod:`consumers.lifecycle.policy`).

PyYAML's ``compose`` returns nodes that keep ``start_mark`` (0-based line and column).
:class:`Fields` reads one mapping node key by key; the ``read_*`` functions turn one node
into a typed value or raise :class:`YamlFieldError`, whose message is
``<file>:<line>: <field path>: <problem>``.

:meth:`Fields.get` and :meth:`Fields.need` do not stop at a bad value: they keep the error
and go on with the next field, and :meth:`Fields.done` raises one :class:`YamlFieldError`
holding every problem of the mapping (nested mappings' included), one per line, in line
order. An unknown key names the nearest known one when there is a close one (a typo), and a
required key that is missing names the misspelt key that was probably meant.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from common.environ import ConfigError

T = TypeVar("T")
_NULL = "tag:yaml.org,2002:null"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class YamlFieldError(ConfigError):
    """A YAML file is malformed. ``problems`` are ``(line, text)`` pairs, each text naming the
    file, the line and the field; the message is their texts, one per line, in line order."""

    def __init__(self, message: str, problems: list[tuple[int, str]] | None = None) -> None:
        self.problems = sorted(problems or [(0, message)], key=lambda problem: problem[0])
        super().__init__("\n".join(text for _line, text in self.problems))


class Problems:
    """The errors found so far in one part of a file."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []

    def add(self, error: YamlFieldError) -> None:
        self.found += error.problems

    @contextlib.contextmanager
    def kept(self) -> Iterator[None]:
        """Keep a :class:`YamlFieldError` raised inside, and go on."""
        try:
            yield
        except YamlFieldError as error:
            self.add(error)

    def raise_any(self) -> None:
        if self.found:
            raise YamlFieldError("", self.found)


def line_of(node: Node) -> int:
    """The 1-based line a node starts on."""
    return int(node.start_mark.line) + 1


def fail(source: str, node: Node, path: str, problem: str) -> YamlFieldError:
    line = line_of(node)
    text = f"{source}:{line}: {path}: {problem}"
    return YamlFieldError(text, [(line, text)])


def nearest(name: str, known: Iterator[str] | tuple[str, ...] | list[str]) -> str | None:
    """The known name ``name`` is most likely a typo of, if one is close enough."""
    found = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return found[0] if found else None


def compose(text: str, source: str) -> Node:
    """The root node of a single-document YAML text; syntax errors name their line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"{int(mark.line) + 1}" if mark is not None else "?"
        raise YamlFieldError(f"{source}:{line}: not valid YAML: {exc.problem or exc.context}") from None
    if node is None:
        raise YamlFieldError(f"{source}:1: the file is empty")
    return node


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL


class Fields:
    """The keys of one mapping node. Each key is taken once; :meth:`done` rejects the rest
    and raises every problem found on the way."""

    def __init__(self, node: Node, path: str, source: str) -> None:
        if not isinstance(node, MappingNode):
            raise fail(source, node, path or "(top level)", "must be a mapping of field: value")
        self.node, self.path, self.source = node, path, source
        self.problems = Problems()
        own: set[str] = set()
        for key, _value in node.value:
            name = self._name(key)
            if name in own:
                self.problems.add(fail(source, key, self.field(name), "appears twice"))
            own.add(name)
        SafeConstructor().flatten_mapping(node)  # resolve ``<<: *anchor``; the file's own keys win
        self._items: dict[str, tuple[Node, Node]] = {}
        for key, value in node.value:
            self._items[self._name(key)] = (key, value)

    def _name(self, key: Node) -> str:
        name = key.value if isinstance(key, ScalarNode) and not is_null(key) else None
        if not isinstance(name, str):
            raise fail(self.source, key, self.path or "(top level)", "field names must be plain strings")
        return name

    def names(self) -> list[str]:
        """The keys not taken yet, in file order."""
        return list(self._items)

    def key(self, name: str) -> Node:
        """The key node of ``name`` (for errors about the name itself)."""
        return self._items[name][0]

    def field(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def optional(self, name: str) -> Node | None:
        """The value node of ``name``; None when absent or ``null``."""
        item = self._items.pop(name, None)
        return None if item is None or is_null(item[1]) else item[1]

    def required(self, name: str) -> Node:
        """The value node of ``name``; raises when it is missing, naming the key that looks
        like a typo of it, if there is one (that key is then taken)."""
        value = self.optional(name)
        if value is None:
            typo = nearest(name, self.names())
            if typo is not None:
                key, _value = self._items.pop(typo)
                problem = f"unknown field; did you mean {name!r}? ({name} is required)"
                raise fail(self.source, key, self.field(typo), problem)
            raise fail(self.source, self.node, self.field(name), "is required")
        return value

    def get(self, name: str, read: Callable[[Node, str, str], T], default: T) -> T:
        """``read`` of the value of ``name``, or ``default`` when absent; a bad value is kept
        as a problem (raised by :meth:`done`) and reads as ``default``."""
        value = self.optional(name)
        if value is None:
            return default
        with self.problems.kept():
            return read(value, self.field(name), self.source)
        return default

    def need(self, name: str, read: Callable[[Node, str, str], T]) -> T:
        """``read`` of the value of ``name``, which must be there. When it is missing or bad
        the problem is kept and the result is a placeholder (None): :meth:`done` raises
        before anything can use it."""
        with self.problems.kept():
            return read(self.required(name), self.field(name), self.source)
        return cast(T, None)

    def record(self, error: YamlFieldError) -> None:
        """Keep a problem found by the caller (raised by :meth:`done`)."""
        self.problems.add(error)

    def done(self, known: tuple[str, ...]) -> None:
        """Reject every key nobody took (a typo, most often: the nearest known key is
        named), then raise every problem of this mapping, if any."""
        for name, (key, _value) in self._items.items():
            typo = nearest(name, known)
            if typo is not None:
                hint = f"; did you mean {typo!r}?"
            else:
                hint = f" (known: {', '.join(known)})" if known else ""
            self.problems.add(fail(self.source, key, self.field(name), "unknown field" + hint))
        self._items.clear()
        self.problems.raise_any()


def _scalar(node: Node, path: str, source: str) -> Any:
    if not isinstance(node, ScalarNode):
        raise fail(source, node, path, "must be a single value, not a list or mapping")
    try:
        return SafeConstructor().construct_object(node, deep=True)
    except ConstructorError as exc:
        raise fail(source, node, path, str(exc.problem)) from None


def read_text(node: Node, path: str, source: str) -> str:
    """Any non-empty scalar, as written (so ``tag: 1.0`` stays the text ``1.0``)."""
    _scalar(node, path, source)
    text = str(node.value).strip()
    if not text:
        raise fail(source, node, path, "must not be empty")
    return text


def read_bool(node: Node, path: str, source: str) -> bool:
    value = _scalar(node, path, source)
    if not isinstance(value, bool):
        raise fail(source, node, path, f"must be true or false, got {node.value!r}")
    return value


def read_count(node: Node, path: str, source: str) -> int:
    """An integer of at least 1."""
    value = _scalar(node, path, source)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(source, node, path, f"must be a whole number of at least 1, got {node.value!r}")
    return value


def read_whole(node: Node, path: str, source: str) -> int:
    """An integer of at least 0."""
    value = _scalar(node, path, source)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise fail(source, node, path, f"must be a whole number of at least 0, got {node.value!r}")
    return value


def read_seconds(node: Node, path: str, source: str) -> float:
    """A positive duration: a number of seconds, or text such as ``250ms``, ``5s``, ``10m``, ``1h``."""
    value = _scalar(node, path, source)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(node.value))
        if match is None:
            raise fail(
                source, node, path, f"must be a duration like 5, 2.5s, 250ms or 10m, got {node.value!r}"
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise fail(source, node, path, f"must be more than zero, got {node.value!r}")
    return seconds


def read_text_list(node: Node, path: str, source: str) -> tuple[str, ...]:
    """A list of texts; a single text reads as a list of one."""
    if isinstance(node, ScalarNode):
        return (read_text(node, path, source),)
    if not isinstance(node, SequenceNode) or not node.value:
        raise fail(source, node, path, "must be a non-empty list")
    return tuple(read_text(item, f"{path}[{i}]", source) for i, item in enumerate(node.value))


def read_regex(node: Node, path: str, source: str) -> re.Pattern[str]:
    text = read_text(node, path, source)
    try:
        return re.compile(text)
    except re.error as exc:
        raise fail(source, node, path, f"{text!r} is not a valid regular expression: {exc}") from None


def items_of(node: Node, path: str, source: str) -> list[tuple[str, Node]]:
    """The items of a sequence node, each with its field path."""
    if not isinstance(node, SequenceNode):
        raise fail(source, node, path, "must be a list")
    return [(f"{path}[{i}]", item) for i, item in enumerate(node.value)]
