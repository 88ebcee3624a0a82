"""Does the bridge keep up with a registry under a realistic mixed load? Concurrent skopeo
pushes and pulls against the real registry for a minute, with the registry's notification
queue (``Pending`` in ``/debug/vars``) sampled every 50 ms.

Not a test. Run it with

    .venv/bin/python -m tests.benchmarks.mixed_load [--seconds 60] [--pushers 2] [--pullers 4]

The registry is the Debian ``docker-registry`` (2.8.2) with htpasswd auth, as in production; its
one endpoint is ``registry-bridge serve`` with a spool (as compose and ``make run`` run it) on the
embedded broker. Pushers copy fresh two-layer images (``skopeo copy oci:... docker://...``, a
new repository every fifth push); pullers copy already pushed tags back out (``skopeo copy
docker://... dir:...``). The load stops after ``--seconds``; then the queue must drain. Printed:
the events the registry queued, its maximum and 99th-percentile ``Pending``, how long it took to
reach 0 after the load, failed or errored deliveries, and the bridge's CPU per event. The machine
runs everything, so the rates are only meaningful when it is quiet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from common.contract import BLOB_MEDIA_TYPE
from devstack.broker import EmbeddedBroker
from devstack.ociimage import OciLayout, build_image
from devstack.registry import ENDPOINT_NAME, Notifications
from tests.benchmarks.connection_cost import cpu_seconds
from tests.support.kafka import consume
from tests.support.pipeline import TOKEN, bridge_process, pipeline_env, start_on_free_port
from tests.support.processes import ServiceProcess
from tests.support.registry import LocalRegistry, notification_counters
from tests.support.scenario import Skopeo, require_tool


@dataclass
class Work:
    """What the load did; ``pushed`` feeds the pullers."""

    pushed: list[tuple[str, str]] = field(default_factory=list)
    pushes: int = 0
    pulls: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def pusher(index: int, registry: LocalRegistry, work: Work, until: float, folder: Path) -> None:
    skopeo = Skopeo(registry, folder / f"skopeo-{index}")
    layout = OciLayout(folder / f"layout-{index}")
    count = 0
    while time.monotonic() < until:
        repository, tag = f"mixed/app-{index}-{count // 5}", f"v{count}"
        image = build_image(repository, f"{index}-{count}-{os.urandom(4).hex()}", layers=2)
        try:
            skopeo.copy(layout.add_image(tag, image), repository, tag, user="alice")
        except Exception as exc:  # a failed push is reported, the load goes on
            with work.lock:
                work.errors.append(f"push {repository}:{tag}: {exc}")
        else:
            with work.lock:
                work.pushes += 1
                work.pushed.append((repository, tag))
        count += 1


def puller(index: int, registry: LocalRegistry, work: Work, until: float, folder: Path) -> None:
    binary = require_tool("skopeo", "skopeo")
    user, password = registry.credentials("bob")
    chooser = random.Random(index)
    while time.monotonic() < until:
        with work.lock:
            choices = list(work.pushed)
        if not choices:
            time.sleep(0.1)
            continue
        repository, tag = chooser.choice(choices)
        target = folder / f"pull-{index}"
        shutil.rmtree(target, ignore_errors=True)
        command = [binary, "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false"]
        command += ["--src-creds", f"{user}:{password}", f"docker://{registry.address}/{repository}:{tag}"]
        done = subprocess.run(
            [*command, f"dir:{target}"], capture_output=True, text=True, timeout=120, check=False
        )
        with work.lock:
            if done.returncode == 0:
                work.pulls += 1
            else:
                work.errors.append(f"pull {repository}:{tag}: {done.stderr.strip()[:200]}")


def sample_pending(registry: LocalRegistry, stop: threading.Event, into: list[int]) -> None:
    with httpx.Client(base_url=registry.debug_url, timeout=5) as client:
        while not stop.is_set():
            into.append(notification_counters(client.get("/debug/vars").json())[ENDPOINT_NAME].pending)
            time.sleep(0.05)


@contextmanager
def bridge_and_registry(
    work_dir: Path, broker: EmbeddedBroker
) -> Iterator[tuple[ServiceProcess, LocalRegistry]]:
    with ExitStack() as stack:
        settings = {
            **pipeline_env(broker.bootstrap_servers, "mixed"),
            "REGBRIDGE_SPOOL_DIR": str(work_dir / "spool"),
        }
        bridge, port = start_on_free_port(partial(bridge_process, settings, work_dir / "logs"))
        stack.callback(bridge.stop)
        notifications = Notifications(f"http://127.0.0.1:{port}/events", TOKEN, timeout="2s", threshold=3)
        registry = stack.enter_context(LocalRegistry(work_dir / "registry", notifications))
        yield bridge, registry


def blob_share(bootstrap: str, expect: int) -> dict[str, int]:
    """Events by kind, read back from Kafka: what ``ignore.mediatypes`` on
    ``application/octet-stream`` would take off the registry's queue."""
    topics = [f"mixed.{suffix}" for suffix in ("push", "pull", "other")]
    records = asyncio.run(consume(bootstrap, topics, expect=expect, within=60, settle=1.0))
    kinds: Counter[str] = Counter()
    for record in records:
        event = json.loads(record.value)
        media_type = (event.get("target") or {}).get("mediaType")
        kinds[f"{event.get('action')} {'blob' if media_type == BLOB_MEDIA_TYPE else 'manifest'}"] += 1
    return dict(sorted(kinds.items()))


def run(seconds: float, pushers: int, pullers: int, work_dir: Path) -> dict[str, Any]:
    broker = EmbeddedBroker(log_path=work_dir / "tansu.log")
    with broker, bridge_and_registry(work_dir, broker) as (bridge, registry):
        assert bridge.pid is not None
        base, cpu_before = registry.endpoint_counters(), sum(cpu_seconds(bridge.pid))
        work, stop = Work(), threading.Event()
        pending: list[int] = []
        sampler = threading.Thread(target=sample_pending, args=(registry, stop, pending))
        sampler.start()
        until = time.monotonic() + seconds
        roles = [(pusher, i) for i in range(pushers)] + [(puller, i) for i in range(pullers)]
        threads = [
            threading.Thread(target=role, args=(i, registry, work, until, work_dir)) for role, i in roles
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        load_s = time.monotonic() - started
        drained_after = time.monotonic()
        while registry.endpoint_counters().pending and time.monotonic() - drained_after < 60:
            time.sleep(0.05)
        drain_s = time.monotonic() - drained_after
        stop.set()
        sampler.join()
        end = registry.endpoint_counters()
        cpu = sum(cpu_seconds(bridge.pid)) - cpu_before
        kinds = blob_share(broker.bootstrap_servers, end.successes)
    events = end.events - base.events
    blobs = sum(count for kind, count in kinds.items() if kind.endswith(" blob"))
    return {
        "seconds": round(load_s, 1),
        "pushers": pushers,
        "pullers": pullers,
        "pushes": work.pushes,
        "pulls": work.pulls,
        "load_errors": len(work.errors),
        "first_errors": work.errors[:3],
        "events": events,
        "events_per_s": round(events / load_s, 1),
        "delivered": end.successes - base.successes,
        "failures": end.failures - base.failures,
        "errors": end.errors - base.errors,
        "max_pending": max(pending, default=0),
        "p99_pending": statistics.quantiles(pending, n=100)[98] if len(pending) > 1 else 0,
        "pending_after_load_s": round(drain_s, 2),
        "pending_at_end": end.pending,
        "bridge_cpu_ms_per_event": round(cpu * 1000 / max(1, events), 3),
        "events_by_kind": kinds,
        "blob_share": round(blobs / max(1, sum(kinds.values())), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--pushers", type=int, default=2)
    parser.add_argument("--pullers", type=int, default=4)
    args = parser.parse_args()
    work_dir = Path(tempfile.mkdtemp(prefix="mixed-load-"))  # kept: the processes' logs
    print(json.dumps({"load_average": os.getloadavg(), "work": str(work_dir)}), flush=True)
    print(json.dumps(run(args.seconds, args.pushers, args.pullers, work_dir)), flush=True)
    print(json.dumps({"load_average": os.getloadavg()}), flush=True)


if __name__ == "__main__":
    main()
