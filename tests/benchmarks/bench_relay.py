"""Relay throughput: deliveries per second to a fast local receiver.

Not a test (nothing here is collected by pytest). Run it with

    .venv/bin/python -m tests.benchmarks.bench_relay [--events 3000] [--partitions 1]

It starts the embedded broker and a bare ASGI receiver under uvicorn in its own process,
publishes ``--events`` events, then runs the relay (in this process) with one subscription,
and again with ten subscriptions on the same events. The clock starts at the first delivery
(so group joins are not counted) and stops when every subscription has delivered every event.
Each rate is also given per CPU-second of this process (the relay's own cost), since the
machine may be shared: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvloop

from consumers.process import tune_gc
from consumers.relay.config import PayloadFormat, Subscription
from consumers.relay.payload import render
from consumers.relay.retry import RetryPolicy
from devstack.broker import EmbeddedBroker
from devstack.ports import free_port, port_open
from tests.consumers.relay.support import create_topic, make_event, publish, relay_running, relay_settings


@contextmanager
def receiver_process() -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "tests.benchmarks.fast_receiver:app", "--port", str(port)]
    command += ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 15
        while not port_open("127.0.0.1", port):
            if time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def measure(
    bootstrap: str, prefix: str, url: str, subscriptions: int, events: int
) -> tuple[float, float]:
    """(deliveries per second over all subscriptions, seconds) once every one delivered every event."""
    retry = RetryPolicy(initial=0.1, max_delay=1, max_attempts=5, max_age=60)
    subs = [
        Subscription(name=f"s{i}", url=url, topics=("push",), retry=retry, secret="bench-secret")
        for i in range(subscriptions)
    ]
    settings = relay_settings(bootstrap, prefix, *subs, batch_max_records=500)
    async with relay_running(settings) as metrics:

        def delivered() -> float:
            # one collect of one counter: cheap enough not to skew the figure
            samples = next(iter(metrics.delivered.collect())).samples
            return float(sum(sample.value for sample in samples if sample.name.endswith("_total")))

        while delivered() == 0:  # noqa: ASYNC110 - sampling the metrics is the measurement
            await asyncio.sleep(0.005)
        wall, cpu = time.perf_counter(), time.process_time()
        while delivered() < events * subscriptions:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        total = delivered()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return total / wall, total / cpu


async def httpx_ceiling(url: str, requests: int) -> tuple[float, float]:
    """The ceiling: one httpx.AsyncClient posting a registry-sized body in a loop, no Kafka, no relay."""
    body = render(PayloadFormat.REGISTRY, make_event(0)).body
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            await client.post(url, content=body)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(requests):
            await client.post(url, content=body)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return requests / wall, requests / cpu


async def main(events: int, partitions: int) -> None:
    with EmbeddedBroker() as broker, receiver_process() as url:
        bootstrap = broker.bootstrap_servers
        prefix = f"bench{uuid.uuid4().hex[:8]}.registry.events"
        await create_topic(bootstrap, f"{prefix}.push", partitions)
        await publish(bootstrap, prefix, [make_event(n, repository=f"repo/{n % 16}") for n in range(events)])
        print(
            "| subscriptions | partitions | events each | deliveries/s, all | per subscription | per CPU-s |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        for count in (1, 10):
            rate, per_cpu = await measure(bootstrap, prefix, url, count, events)
            print(
                f"| {count} | {partitions} | {events} | {rate:,.0f} | {rate / count:,.0f} | {per_cpu:,.0f} |"
            )
        rate, per_cpu = await httpx_ceiling(url, events)
        print(f"| raw httpx loop (ceiling) | - | {events} | {rate:,.0f} | - | {per_cpu:,.0f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="uvloop")
    arguments = parser.parse_args()
    factory = uvloop.new_event_loop if arguments.loop == "uvloop" else asyncio.new_event_loop
    print(f"event loop: {arguments.loop}; load average before: {os.getloadavg()}", flush=True)
    tune_gc()  # as the CLI does
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main(arguments.events, arguments.partitions))
    print(f"load average after: {os.getloadavg()}")
