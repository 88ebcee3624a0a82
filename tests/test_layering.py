"""The import rules that keep the architecture visible (``docs/architecture.md``):

* ``common`` imports none of ``bridge``, ``consumers`` or ``devstack``, and the wire contract
  (``common.contract``) nothing but the standard library and orjson;
* ``consumers`` imports nothing from ``bridge`` or ``devstack``: what both sides use is in
  ``common``;
* ``bridge`` imports nothing from ``consumers``, and from ``devstack`` only in ``bridge.cli``
  (the ``dev`` and ``demo-image`` commands, inside the command functions);
* ``devstack`` may import both sides;
* every Kafka client is built by ``common.kafka.KafkaClients``: no other module calls
  aiokafka's client constructors, so the TLS and SASL settings cannot be forgotten.

Every ``import`` statement counts, those inside functions included.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "bridge", "consumers", "devstack")
STDLIB = set(sys.stdlib_module_names)


def modules(package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def imports(path: Path) -> Iterator[tuple[str, int, bool]]:
    """``(module, line, top_level)`` for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in top
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno, id(node) in top


def violations(package: str) -> list[str]:
    found = []
    for name, path in modules(package):
        for target, line, top_level in imports(path):
            why = rule(name, target, top_level)
            if why:
                found.append(f"{path.relative_to(ROOT)}:{line}: imports {target} ({why})")
    return found


def rule(module: str, target: str, top_level: bool) -> str | None:
    """Why ``module`` may not import ``target``; None when it may."""
    root = target.split(".")[0]
    outside_stdlib = root not in STDLIB and root != "orjson"
    if module.startswith("common.contract") and outside_stdlib and not target.startswith("common.contract"):
        return "the wire contract imports only the standard library and orjson"
    if module.startswith("common") and root in ("bridge", "consumers", "devstack"):
        return "common is imported by every side and imports none"
    if module.startswith("consumers") and root in ("bridge", "devstack"):
        return "consumers reach what they share with the bridge through common"
    if module.startswith("bridge") and root == "consumers":
        return "the bridge never imports the consumers"
    if module.startswith("bridge") and root == "devstack" and (module != "bridge.cli" or top_level):
        return "only bridge.cli's dev commands import devstack, inside the command"
    return None


@pytest.mark.parametrize("package", PACKAGES)
def test_import_rules(package: str) -> None:
    assert violations(package) == []


def test_the_rules_catch_a_forbidden_import() -> None:
    assert rule("consumers.runner", "bridge.publisher", True)
    assert rule("consumers.runner", "devstack.ports", False)
    assert rule("common.contract.event", "aiokafka", True)
    assert rule("common.logs", "bridge.app", False)
    assert rule("bridge.app", "consumers.settings", False)
    assert rule("bridge.cli", "devstack.stack", True)
    assert rule("bridge.app", "devstack.stack", False)
    assert rule("bridge.cli", "devstack.stack", False) is None
    assert rule("devstack.stack", "consumers.handlers", True) is None


def test_the_contract_loads_without_the_http_stack_or_kafka() -> None:
    code = (
        "import sys, common.contract, consumers\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'starlette', 'uvicorn', 'aiokafka'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the contract pulled in: {out.stdout.strip()}"


KAFKA_CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"}
FACTORY = ROOT / "common" / "kafka" / "clients.py"


def kafka_client_constructions(path: Path) -> list[int]:
    """Lines of ``path`` that call an aiokafka client constructor."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if name in KAFKA_CLIENTS:
                lines.append(node.lineno)
    return lines


def test_every_kafka_client_comes_from_the_factory() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in PACKAGES
        for _, path in modules(package)
        if path != FACTORY
        for line in kafka_client_constructions(path)
    ]
    assert found == [], "build Kafka clients with common.kafka.KafkaClients"
    assert kafka_client_constructions(FACTORY), "the factory itself is found by the check"
