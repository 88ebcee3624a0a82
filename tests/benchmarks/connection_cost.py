"""What one registry delivery costs the receiver: CPU time and instructions per event when
every event comes on a new TCP connection (and, over https, a new TLS handshake), one after
the other, as CNCF distribution delivers them.

Not a test. Run it with

    .venv/bin/python -m tests.benchmarks.connection_cost [--events 2000] [--measure cpu]
        [--driver socket|registry] [TARGET ...]

Targets (default ``null null-kafka bridge``):

- ``null``: a bare ASGI app under uvicorn (read the body, answer 200): what the stack costs;
- ``starlette``: uvicorn and a Starlette route that parses the body with orjson;
- ``null-kafka``: ``null`` plus one aiokafka ``send_and_wait`` of the body (acks=all, the
  bridge's producer options): the least a bridge on this stack can do per event;
- ``bridge``, ``bridge-spool`` (with ``REGBRIDGE_SPOOL_DIR``): ``registry-bridge serve``;
- ``null-tls``, ``null-kafka-tls``, ``bridge-tls``: the same over https (a throwaway CA and an
  ECDSA P-256 certificate from trustme; ``COST_KEY_TYPE=rsa`` for RSA 2048).

The floors run under uvicorn's command line as ``registry_drain.py`` runs its ``null`` target
(``--uvicorn-arg`` adds options). ``--driver socket`` (default): this script is the registry:
per event it connects, sends one POST exactly as Go's HTTP client does (same headers, same
order, one write), reads the answer and closes, ``--events`` times in a row after ``--warmup``
such deliveries, every event with its own id. ``--measure``:

- ``cpu``: the target's user and system CPU time from ``/proc`` over the measured deliveries.
  Other load on the cores moves it a little (caches, frequency), not much.
- ``callgrind``: the target runs under ``valgrind --tool=callgrind``, instrumentation off until
  the warm-up is done; the figure is user-space instructions (Ir) per event, which other load
  does not move (the dump is kept for ``callgrind_annotate``).
- ``syscalls``: ``strace -c -f`` attached for the measured deliveries: system calls per event.
- ``py-spy``: ``py-spy record`` (1,000 samples/s, collapsed stacks; ``COST_PY_SPY_NATIVE=1`` adds
  C frames) over the measured deliveries (``pip install py-spy``).

``--driver registry``: the real registry delivers instead (Debian ``docker-registry``, as
``registry_drain.py`` does): the target is paused while ``--events`` pull events queue up, then
resumed, and the rate is the registry's Successes between 10 % and 90 % of the backlog, with the
target's CPU per delivered event. The rates are wall-clock: meaningful on a quiet machine only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack.broker import EmbeddedBroker
from devstack.ports import free_port
from devstack.processgroup import stop_group
from devstack.registry import Notifications
from tests.support.registry import LocalRegistry

TOKEN = "bench-token"
V1 = "application/vnd.docker.distribution.events.v1+json"
TARGETS = (
    "null",
    "starlette",
    "null-kafka",
    "bridge",
    "bridge-spool",
    "null-tls",
    "null-kafka-tls",
    "bridge-tls",
)
FLOOR_APPS = {"null": "null", "starlette": "starlette", "null-kafka": "null_kafka"}
ROOT = Path(__file__).resolve().parents[2]
Row = dict[str, object]


def pull_body(event_id: str, port: int) -> bytes:
    """A blob pull event as distribution 2.8.2 sends it (indented by 3 spaces): what a HEAD of
    a blob produces, the bulk of a registry's events."""
    digest = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
    event = {
        "id": event_id,
        "timestamp": "2026-11-29T02:03:04.303049534Z",
        "action": "pull",
        "target": {
            "mediaType": "application/octet-stream",
            "size": 176,
            "digest": digest,
            "length": 176,
            "repository": "bench/drain",
            "url": f"http://127.0.0.1:{port}/v2/bench/drain/blobs/{digest}",
        },
        "request": {
            "id": str(uuid.uuid4()),
            "addr": "127.0.0.1:54606",
            "host": f"127.0.0.1:{port}",
            "method": "HEAD",
            "useragent": "Python-urllib/3.11",
        },
        "actor": {},
        "source": {"addr": "bench:5000", "instanceID": "d8b226df-6a44-4f3e-a8e1-8a5c1b0b9a51"},
    }
    return json.dumps({"events": [event]}, indent=3).encode()


def request_bytes(port: int, body: bytes) -> bytes:
    """The request as Go's net/http client writes it for the registry's sink (header order
    included: Host, User-Agent, Content-Length, then the sink's headers, Accept-Encoding)."""
    head = (
        f"POST /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: Go-http-client/1.1\r\n"
        f"Content-Length: {len(body)}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: {V1}\r\n"
        "Accept-Encoding: gzip\r\n\r\n"
    )
    return head.encode() + body


def read_answer(sock: socket.socket) -> int:
    """Read one response (headers and a Content-Length body); its status."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before the answer was complete: {data[:200]!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    match = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    length = int(match.group(1)) if match else 0
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(head.split(b" ", 2)[1])


def deliver(port: int, tls: ssl.SSLContext | None) -> int:
    """One delivery the way the registry makes it: connect, POST, read the answer, close."""
    body = pull_body(str(uuid.uuid4()), port)
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # Go's default
    sock: socket.socket = raw
    try:
        if tls is not None:
            sock = tls.wrap_socket(raw, server_hostname="127.0.0.1")
        sock.sendall(request_bytes(port, body))
        return read_answer(sock)
    finally:
        sock.close()


@dataclass
class Target:
    name: str
    port: int
    command: list[str]
    env: dict[str, str]
    log: Path
    tls: ssl.SSLContext | None = None
    ca_file: Path | None = None


def tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """(CA, certificate chain, key) for 127.0.0.1, made with trustme."""
    import trustme

    key_type = trustme.KeyType.RSA if os.environ.get("COST_KEY_TYPE") == "rsa" else trustme.KeyType.ECDSA
    ca = trustme.CA(key_type=key_type)
    cert = ca.issue_cert("127.0.0.1", key_type=key_type)
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca.cert_pem.write_to_path(str(paths[0]))
    for blob in cert.cert_chain_pems:
        blob.write_to_path(str(paths[1]), append=True)
    cert.private_key_pem.write_to_path(str(paths[2]))
    return paths


def make_target(name: str, bootstrap: str, work: Path, uvicorn_args: list[str]) -> Target:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGBRIDGE_")}
    target = Target(name, port, [], env, work / f"{name}.log")
    cert = key = Path()
    if name.endswith("-tls"):
        target.ca_file, cert, key = tls_files(work / f"{name}-certs")
        target.tls = ssl.create_default_context(cafile=str(target.ca_file))
    base = name.removesuffix("-tls")
    if base.startswith("bridge"):
        env |= {
            "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "REGBRIDGE_AUTH_TOKENS": TOKEN,
            "REGBRIDGE_TOPIC_PREFIX": f"cost{port}.events",
            "REGBRIDGE_LOG_LEVEL": os.environ.get("COST_LOG_LEVEL", "INFO"),
        }
        if base == "bridge-spool":
            env["REGBRIDGE_SPOOL_DIR"] = str(work / f"{name}-spool")
        if target.tls is not None:
            env |= {"REGBRIDGE_TLS_CERT_FILE": str(cert), "REGBRIDGE_TLS_KEY_FILE": str(key)}
        target.command = [sys.executable, "-m", "bridge", "serve", "--host", "127.0.0.1", "--port", str(port)]
        return target
    env["FLOOR_KAFKA_BOOTSTRAP"] = bootstrap
    app = f"tests.benchmarks.floors:{FLOOR_APPS[base]}"
    target.command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    target.command += ["--log-level", "warning", "--no-access-log", *uvicorn_args]
    if target.tls is not None:
        target.command += ["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
    return target


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of ``pid`` and its live children, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:
            user += int(fields[11]) / tick
            system += int(fields[12]) / tick
    return user, system


@contextmanager
def running(target: Target, wrapper: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """The target's process (its own process group), stopped on the way out."""
    with open(target.log, "wb") as log:
        process = subprocess.Popen(
            [*wrapper, *target.command],
            env=target.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )
    try:
        yield process
    finally:
        stop_group(process, grace=10)


def failed(target: Target, why: str) -> SystemExit:
    return SystemExit(f"{target.name} {why}; its log ends:\n{target.log.read_text()[-2000:]}")


def wait_ready(target: Target, process: subprocess.Popen[bytes], within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise failed(target, f"exited with {process.returncode}")
        try:
            if deliver(target.port, target.tls) == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise failed(target, f"answered no 200 within {within}s")


def run_deliveries(target: Target, count: int) -> float:
    """``count`` deliveries; the seconds they took. Anything but 200 stops the run."""
    started = time.perf_counter()
    for _ in range(count):
        status = deliver(target.port, target.tls)
        if status != 200:
            raise failed(target, f"answered {status}")
    return time.perf_counter() - started


def during(target: Target, events: int, process: subprocess.Popen[bytes], row: Row) -> float:
    """The measured deliveries, with the CPU they cost the target added to ``row``."""
    user, system = cpu_seconds(process.pid)
    seconds = run_deliveries(target, events)
    user_after, system_after = cpu_seconds(process.pid)
    row["cpu_ms_per_event"] = round((user_after + system_after - user - system) * 1000 / events, 4)
    row["user_ms_per_event"] = round((user_after - user) * 1000 / events, 4)
    row["system_ms_per_event"] = round((system_after - system) * 1000 / events, 4)
    return seconds


def callgrind(target: Target, events: int, process: subprocess.Popen[bytes], row: Row) -> float:
    out = Path(row.pop("_callgrind_out"))  # type: ignore[arg-type]
    subprocess.run(["callgrind_control", "-i", "on", str(process.pid)], check=True, capture_output=True)
    seconds = run_deliveries(target, events)
    subprocess.run(["callgrind_control", "-d", str(process.pid)], check=True, capture_output=True)
    dumps = sorted(out.parent.glob(out.name + ".*"), key=lambda p: p.stat().st_mtime)
    totals = [line for line in dumps[-1].read_text().splitlines() if line.startswith(("summary:", "totals:"))]
    row["instructions_per_event"] = round(int(totals[0].split()[1]) / events)
    row["callgrind_dump"] = str(dumps[-1])
    return seconds


def attached(
    tool: list[str], stop: signal.Signals
) -> Callable[[Target, int, subprocess.Popen[bytes], Row], float]:
    """A measurement that runs ``tool`` (``{pid}`` and ``{out}`` filled in) during the deliveries."""

    def measure(target: Target, events: int, process: subprocess.Popen[bytes], row: Row) -> float:
        out = Path(str(row.pop("_out")))
        spy = subprocess.Popen([part.format(pid=process.pid, out=out) for part in tool])
        time.sleep(1.0)  # attached
        seconds = run_deliveries(target, events)
        spy.send_signal(stop)
        spy.wait(30)
        row["output"] = str(out)
        if tool[0] == "strace":
            row.update(syscall_counts(out, events))
        return seconds

    return measure


def syscall_counts(trace: Path, events: int) -> Row:
    calls: dict[str, float] = {}
    for line in trace.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
            calls[parts[-1]] = round(int(parts[3]) / events, 2)
    return {"syscalls_per_event": round(sum(calls.values()), 2), "by_call": calls}


PY_SPY = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", "{pid}", "--rate", "1000"]
PY_SPY += [
    "--format",
    "raw",
    "--output",
    "{out}",
    *(["--native"] if os.environ.get("COST_PY_SPY_NATIVE") else []),
]
MEASURES = {
    "cpu": during,
    "callgrind": callgrind,
    "syscalls": attached(["strace", "-c", "-f", "-o", "{out}", "-p", "{pid}"], signal.SIGINT),
    "py-spy": attached(PY_SPY, signal.SIGINT),
}


def measure(target: Target, how: str, events: int, warmup: int, work: Path) -> Row:
    row: Row = {"target": target.name, "events": events, "measure": how}
    wrapper: list[str] = []
    if how == "callgrind":
        out = work / f"callgrind.{target.name}.out"
        wrapper = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
        row["_callgrind_out"] = str(out)
    row["_out"] = str(work / f"{how}.{target.name}.txt")
    with running(target, wrapper) as process:
        wait_ready(target, process, 300 if wrapper else 60)
        run_deliveries(target, warmup)
        seconds = MEASURES[how](target, events, process, row)
    row.pop("_out", None)
    row["rate_per_s"] = round(events / seconds)
    return row


def registry_drain(target: Target, events: int, work: Path) -> Row:
    """Through the real registry, as ``registry_drain.py`` of the shared harness does: pause the
    target, queue ``events`` pull events (HEADs of one blob), resume it, and time the registry's
    own Successes between 10 % and 90 % of the backlog."""
    url = f"{'https' if target.tls else 'http'}://127.0.0.1:{target.port}/events"
    notifications = Notifications(url=url, token=TOKEN, timeout="1s", threshold=10, backoff="200ms")
    registry = LocalRegistry(work / f"registry-{target.name}", notifications)
    trust = {"SSL_CERT_FILE": str(target.ca_file)} if target.ca_file else {}
    with patched_environ(trust), registry, running(target, []) as process:
        wait_ready(target, process, 60)
        with httpx.Client(base_url=registry.url, auth=registry.credentials("alice"), timeout=10) as client:
            digest = push_blob(client)
            registry.wait_until_delivered(timeout=30, quiet=0.2)
            base = registry.endpoint_counters()
            assert registry.pid is not None
            rss_before = resident_kib(registry.pid)
            os.killpg(process.pid, signal.SIGSTOP)
            try:
                for _ in range(events):
                    client.head(f"/v2/bench/drain/blobs/{digest}").raise_for_status()
                cpu_before = sum(cpu_seconds(process.pid))
                rss_backlog, backlog = resident_kib(registry.pid), registry.endpoint_counters().pending
            finally:
                os.killpg(process.pid, signal.SIGCONT)
        samples, now = [], base
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and (now.pending or now.successes - base.successes < events):
            time.sleep(0.02)
            now = registry.endpoint_counters()
            samples.append((time.monotonic(), now.successes - base.successes))
        cpu = sum(cpu_seconds(process.pid)) - cpu_before
    low = next(s for s in samples if s[1] >= events * 0.1)
    high = next(s for s in samples if s[1] >= events * 0.9)
    delivered = now.successes - base.successes
    return {
        "target": target.name,
        "events": events,
        "driver": "registry",
        "rate_per_s": round((high[1] - low[1]) / (high[0] - low[0])),
        "cpu_ms_per_event": round(cpu * 1000 / max(1, delivered), 4),
        "delivered": delivered,
        "failures": now.failures - base.failures,
        "errors": now.errors - base.errors,
        "registry_rss_mib": round(rss_before / 1024, 1),
        "registry_rss_with_backlog_mib": round(rss_backlog / 1024, 1),
        "registry_bytes_per_pending_event": round((rss_backlog - rss_before) * 1024 / max(1, backlog)),
    }


def resident_kib(pid: int) -> int:
    """VmRSS of ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def push_blob(client: httpx.Client) -> str:
    blob = b"connection-cost-" + os.urandom(8)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    started = client.post("/v2/bench/drain/blobs/uploads/")
    started.raise_for_status()
    location = started.headers["location"]
    separator = "&" if "?" in location else "?"
    client.put(f"{location}{separator}digest={digest}", content=blob).raise_for_status()
    return digest


@contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    """``values`` in this process's environment (the registry inherits it) for a while."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("targets", nargs="*", default=["null", "null-kafka", "bridge"], choices=TARGETS)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--measure", choices=sorted(MEASURES), default="cpu")
    parser.add_argument("--driver", choices=("socket", "registry"), default="socket")
    parser.add_argument("--uvicorn-arg", action="append", default=[], help="an extra option for the floors")
    args = parser.parse_args()
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="connection-cost-"))  # kept: logs, dumps, profiles
        bootstrap = ""
        if any("kafka" in t or t.startswith("bridge") for t in args.targets):
            bootstrap = stack.enter_context(EmbeddedBroker(log_path=work / "tansu.log")).bootstrap_servers
        print(json.dumps({"load_average": os.getloadavg(), "work": str(work)}), flush=True)
        for name in args.targets:
            target = make_target(name, bootstrap, work, args.uvicorn_arg)
            if args.driver == "registry":
                row = registry_drain(target, args.events, work)
            else:
                row = measure(target, args.measure, args.events, args.warmup, work)
            print(json.dumps(row), flush=True)
        print(json.dumps({"load_average": os.getloadavg()}), flush=True)


if __name__ == "__main__":
    main()
