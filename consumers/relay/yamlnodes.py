"""Reading a YAML file through its node tree, so that every error names a line and a field.

PyYAML's ``compose`` returns nodes that keep ``start_mark`` (0-based line and column).
:class:`Fields` reads one mapping node key by key; the ``read_*`` functions turn one node
into a typed value or raise :class:`YamlFieldError`, whose message is
``<file>:<line>: <field path>: <problem>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from common.environ import ConfigError

T = TypeVar("T")
_NULL = "tag:yaml.org,2002:null"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class YamlFieldError(ConfigError):
    """A YAML file is malformed; the message names the file, the line and the field."""


def line_of(node: Node) -> int:
    """The 1-based line a node starts on."""
    return int(node.start_mark.line) + 1


def fail(source: str, node: Node, path: str, problem: str) -> YamlFieldError:
    return YamlFieldError(f"{source}:{line_of(node)}: {path}: {problem}")


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
    """The keys of one mapping node. Each key is taken once; :meth:`done` rejects the rest."""

    def __init__(self, node: Node, path: str, source: str) -> None:
        if not isinstance(node, MappingNode):
            raise fail(source, node, path or "(top level)", "must be a mapping of field: value")
        self.node, self.path, self.source = node, path, source
        own: set[str] = set()
        for key, _value in node.value:
            name = self._name(key)
            if name in own:
                raise fail(source, key, self.field(name), "appears twice")
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
        value = self.optional(name)
        if value is None:
            raise fail(self.source, self.node, self.field(name), "is required")
        return value

    def get(self, name: str, read: Callable[[Node, str, str], T], default: T) -> T:
        value = self.optional(name)
        return default if value is None else read(value, self.field(name), self.source)

    def need(self, name: str, read: Callable[[Node, str, str], T]) -> T:
        return read(self.required(name), self.field(name), self.source)

    def done(self, known: tuple[str, ...]) -> None:
        """Fail on the first key nobody took (a typo, most often)."""
        for name, (key, _value) in self._items.items():
            hint = f" (known: {', '.join(known)})" if known else ""
            raise fail(self.source, key, self.field(name), "unknown field" + hint)


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


def items_of(node: Node, path: str, source: str) -> list[tuple[str, Node]]:
    """The items of a sequence node, each with its field path."""
    if not isinstance(node, SequenceNode):
        raise fail(source, node, path, "must be a list")
    return [(f"{path}[{i}]", item) for i, item in enumerate(node.value)]
