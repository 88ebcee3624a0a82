"""``registry-bridge dev`` (``make run``): the one-minute local demo, run as a newcomer would.

It starts on free ports (every port flag 0) in a temporary directory (``tests.support.demo``).
The test reads what it printed, runs the printed skopeo push, sees the events in Kafka and
the image in the dashboard's API and the store, then presses Ctrl-C (SIGINT) and checks that
every process it started is gone. How it stops in harder cases: ``test_supervisor.py``.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from common.environ import Environ
from devstack.broker import normal_broker_line
from devstack.ports import DevPorts, port_open
from devstack.registry import normal_log_line
from devstack.stack import DevStack, demo_token, dev_processes, registry_config, registry_snippet
from tests.support.database import read_table
from tests.support.demo import STOPPED, Dev, alive, running_dev, stop_everything
from tests.support.kafka import consume
from tests.support.paths import DOCS, ROOT
from tests.support.processes import clean_env


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    running = running_dev(tmp_path)
    try:
        yield running
    finally:
        stop_everything(running)


def _demo_digest(cwd: Path) -> str:
    index = json.loads((cwd / "var" / "demo-image" / "index.json").read_text())
    return str(index["manifests"][0]["digest"])


def _tags_in_dashboard(url: str, within: float = 90.0) -> list[dict[str, str]]:
    deadline = time.monotonic() + within
    items: list[dict[str, str]] = []
    while not items and time.monotonic() < deadline:
        response = httpx.get(f"{url}api/v1/repositories/demo/hello/tags", timeout=5)
        items = response.json().get("items", []) if response.status_code == 200 else []
        time.sleep(0.3)
    return items


@pytest.mark.kafka
def test_make_run_demo_pushes_a_sample_image_through_and_stops_cleanly(dev: Dev) -> None:
    children = dev.children()
    assert len(children) == 8, "broker, bridge, three consumers, dashboard, registry and reconcile"
    assert sorted(dev.started()) == sorted([*children, dev.process.pid])
    assert sorted(dev.recorded().values()) == sorted(children), "var/dev.pid names every child"
    token = dev.found(r"Authorization: \[Bearer ([^\]]+)\]")
    bridge = dev.found(r"^\[dev\] bridge ready: POST (http://127\.0\.0\.1:\d+)/events ")
    bootstrap = dev.found(r"embedded Kafka broker \(Tansu, in memory\) on (\S+)$")
    dashboard = dev.found(r"^\[dev\] dashboard: (http://127\.0\.0\.1:\d+/)$")
    push = dev.found(r"^    (skopeo copy .*)$")
    assert f"url: {bridge}/events" in dev.text() and token
    assert (dev.cwd / "var" / "bridge-token").read_text().strip() == token, "the token is kept in var"

    done = subprocess.run(shlex.split(push), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr

    records = asyncio.run(consume(bootstrap, ["registry.events.push"], expect=3, within=60))
    assert {r.headers["repository"] for r in records} == {b"demo/hello"}
    assert len(records) == 3, "two blobs (config, layer) and the manifest"
    digest = _demo_digest(dev.cwd)
    assert [(t["tag"], t["digest"]) for t in _tags_in_dashboard(dashboard)] == [("v1", digest)]
    tags = asyncio.run(read_table(f"sqlite:///{dev.cwd / 'var' / 'registry.db'}", "tags"))
    assert [(t["repository"], t["tag"], t["digest"]) for t in tags] == [("demo/hello", "v1", digest)]

    assert "blob unknown" not in dev.text(), "the registry's normal probes are not shown as errors"
    alarming = re.compile(r'"level":"(error|critical)"|level=error|\bERROR\b|Traceback')
    errors = [line for line in dev.text().splitlines() if alarming.search(line)]
    assert errors == [], "a first run shows no error line"
    dev.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert dev.process.wait(timeout=120) == 0, dev.text()
    assert [pid for pid in children if alive(pid)] == []
    assert dev.started() == [], "no process left working in the demo's directory"
    assert "[dev] broker stopped" in dev.text() and dev.text().rstrip().endswith(STOPPED)
    assert (dev.cwd / "var" / "spool" / "lock").exists(), "the bridge ran with its spool"
    assert [p for p in dev.ports() if port_open("127.0.0.1", p)] == []
    assert not (dev.cwd / "var" / "dev.pid").exists(), "a clean stop removes the pid file"


def test_a_taken_port_is_swapped_for_a_free_one() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = DevPorts(bridge=taken, dashboard=taken, metrics=taken - 1).resolved()
    assert taken not in (ports.bridge, ports.dashboard, *range(ports.metrics, ports.metrics + 4))
    assert len({ports.bridge, ports.dashboard, ports.registry, ports.registry_debug, ports.kafka}) == 5


def test_the_registry_is_in_the_stack_only_when_installed() -> None:
    stack = DevStack("127.0.0.1:9092", "t", "127.0.0.1", DevPorts())
    without = [spec.name for spec in dev_processes(stack)]
    assert without == ["bridge", "consumer-push", "consumer-pull", "consumer-other", "dashboard"]
    with_registry = dev_processes(DevStack("127.0.0.1:9092", "t", "127.0.0.1", DevPorts(), "/usr/bin/x"))
    assert [spec.name for spec in with_registry] == [*without, "registry", "reconcile"]
    assert all(spec.ready_url for spec in with_registry)


def test_demo_image_writes_a_layout_skopeo_can_read(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "bridge", "demo-image", str(tmp_path / "layout")]
    done = subprocess.run(argv, env=clean_env(), capture_output=True, text=True, timeout=60, check=True)
    source = done.stdout.strip()
    assert source == f"oci:{tmp_path / 'layout'}:hello"
    inspected = subprocess.run(
        ["skopeo", "inspect", "--raw", source], capture_output=True, text=True, timeout=60, check=False
    )
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["mediaType"] == "application/vnd.oci.image.manifest.v1+json"


def test_dev_snippet_names_a_reachable_url() -> None:
    local = DevStack("127.0.0.1:9092", "tok", "127.0.0.1", DevPorts(bridge=5080))
    assert "url: http://127.0.0.1:5080/events" in registry_snippet(local)
    assert "Authorization: [Bearer tok]" in registry_snippet(local)
    wide = DevStack("127.0.0.1:9092", "tok", "0.0.0.0", DevPorts(bridge=5080))
    assert wide.events_url == "http://127.0.0.1:5080/events"  # the local registry
    assert f"url: http://{socket.gethostname()}:5080/events" in registry_snippet(wide)


def test_the_bridge_token_is_kept_in_var_and_reused(tmp_path: Path) -> None:
    var = tmp_path / "var"
    first = demo_token(Environ({}), var)
    assert demo_token(Environ({}), var) == first, "a registry configured from the banner keeps working"
    assert (var / "bridge-token").stat().st_mode & 0o777 == 0o600
    assert demo_token(Environ({"REGBRIDGE_AUTH_TOKENS": "mine,other"}), var) == "mine"
    (var / "bridge-token").write_text("\n")
    assert demo_token(Environ({}), var) not in ("", first), "an empty file gets a new token"


def _recommended_endpoint() -> dict[str, object]:
    """The endpoint of the first YAML block of docs/registry-setup.md."""
    text = (DOCS / "registry-setup.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    endpoint: dict[str, object] = yaml.safe_load(block)["notifications"]["endpoints"][0]
    return endpoint


def test_the_printed_registry_block_is_what_the_docs_recommend() -> None:
    stack = DevStack("127.0.0.1:9092", "tok", "127.0.0.1", DevPorts(bridge=5080))
    printed = yaml.safe_load(registry_snippet(stack))["notifications"]["endpoints"][0]
    recommended = _recommended_endpoint()
    for key in ("timeout", "threshold", "backoff"):
        assert printed[key] == recommended[key], key
    local = registry_config(stack).as_dict()["notifications"]["endpoints"][0]
    assert {k: local[k] for k in ("timeout", "threshold", "backoff")} == {
        k: printed[k] for k in ("timeout", "threshold", "backoff")
    }, "the local registry runs with what the banner prints"
    readme = (ROOT / "README.md").read_text()
    assert registry_snippet(stack).replace("Bearer tok", "Bearer <token>") in readme


def test_only_tansus_idempotence_refusal_is_left_out() -> None:
    refusal = (
        "\x1b[2m2026-12-01T08:05:44.042280Z\x1b[0m \x1b[31mERROR\x1b[0m "
        "\x1b[2mtansu_storage::dynostore\x1b[0m\x1b[2m:\x1b[0m \x1b[2m2166:\x1b[0m "
        "\x1b[3mproducer\x1b[0m\x1b[2m=\x1b[0mNone \x1b[3mepoch\x1b[0m\x1b[2m=\x1b[0mNone"
    )
    assert not normal_broker_line(refusal)
    assert normal_broker_line("\x1b[31mERROR\x1b[0m tansu_storage::dynostore: 99: disk full")
    assert normal_broker_line("listening on: tcp://127.0.0.1:9092")


def test_only_the_registrys_blob_probes_are_left_out() -> None:
    probe = (
        'time="2026-12-01T07:59:10Z" level=error msg="response completed with error" '
        'err.code="blob unknown" err.detail="sha256:a09b" err.message="blob unknown to registry"'
    )
    assert not normal_log_line(probe)
    assert normal_log_line(probe.replace("blob unknown", "manifest unknown"))
    assert normal_log_line('time="x" level=error msg="response completed with error" err.code="unknown"')
    assert normal_log_line('time="x" level=info msg="listening on 127.0.0.1:5000"')
