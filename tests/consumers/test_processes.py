"""The real ``registry-consumer run ...`` as subprocesses: a SIGKILL mid-stream loses
nothing and counts nothing twice; a SIGTERM mid-stream commits everything it stored (the
next consumer sees no redelivery); two processes in one group split the partitions."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest

from consumers.process import ConsumerProcess
from consumers.settings import ConsumerSettings
from devstack.ports import free_port
from tests.consumers.conftest import MakeSettings
from tests.support.consumers import metric, running, start_cli, stop_cli, wait_for, wait_processed
from tests.support.database import processed_count, read_table
from tests.support.events import bodies, event
from tests.support.kafka import create_topics, publish_to_kafka

pytestmark = pytest.mark.kafka
TOTAL = 2000
CHUNK = 200


async def publish_in_chunks(settings: ConsumerSettings, repositories: list[str]) -> None:
    """TOTAL pull events, a chunk at a time, so that consumers see a stream."""
    for start in range(0, TOTAL, CHUNK):
        events = [
            event("pull", repositories[i % len(repositories)], size=1) for i in range(start, start + CHUNK)
        ]
        await publish_to_kafka(settings.kafka.bootstrap_servers, settings.topic_prefix, bodies(events))
        await asyncio.sleep(0.05)


async def pull_totals(url: str) -> tuple[int, int]:
    rows = await read_table(url, "pulls")
    return sum(row["blob_gets"] for row in rows), sum(row["bytes"] for row in rows)


async def test_a_consumer_killed_mid_stream_and_restarted_loses_nothing_and_counts_nothing_twice(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    pull = make_settings("pull", batch_max_records=20)
    url = pull.database_url
    await create_topics(pull.kafka.bootstrap_servers, [pull.topic])
    publisher = asyncio.create_task(publish_in_chunks(pull, ["team/a", "team/b"]))
    first = start_cli(pull, tmp_path / "first.log")
    try:
        reached = await wait_for(lambda: processed_count(url, "pull"), lambda n: n >= 100, every=0.05)
        assert stop_cli(first, signal.SIGKILL) == -signal.SIGKILL
        killed_at = await processed_count(url, "pull")
        assert 100 <= reached <= killed_at < TOTAL, "the kill must land mid-stream"
        await publisher
        second = start_cli(pull, tmp_path / "second.log")
        try:
            assert await wait_processed(url, "pull", TOTAL) == TOTAL
        finally:
            assert stop_cli(second) == 0
    finally:
        publisher.cancel()
        stop_cli(first, signal.SIGKILL)
    assert await pull_totals(url) == (TOTAL, TOTAL)


def assignments(log_path: Path) -> list[list[str]]:
    """Every ``partitions assigned`` line a consumer logged, in order."""
    found = []
    for line in log_path.read_text().splitlines():
        if line.startswith("{") and '"partitions assigned"' in line:
            found.append(json.loads(line)["partitions"])
    return found


async def test_two_processes_in_one_group_split_the_partitions(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    ports = [free_port(), free_port()]
    pull = make_settings("pull")
    url = pull.database_url
    await create_topics(pull.kafka.bootstrap_servers, [pull.topic], partitions=2)
    processes = [
        start_cli(make_settings("pull", group_id=pull.group, metrics_port=port), log)
        for port, log in zip(ports, logs, strict=True)
    ]
    try:
        split = await wait_for(
            lambda: asyncio.sleep(0, [assignments(log)[-1:] for log in logs]),
            lambda seen: all(a and len(a[0]) == 1 for a in seen),
            every=0.2,
        )
        assert sorted(a[0][0] for a in split) == sorted(
            f"TopicPartition(topic='{pull.topic}', partition={p})" for p in (0, 1)
        )
        await publish_in_chunks(pull, [f"team/repo{i}" for i in range(16)])
        assert await wait_processed(url, "pull", TOTAL) == TOTAL
        counts = await wait_for(lambda: _processed_metrics(ports), lambda found: sum(found) >= TOTAL)
    finally:
        codes = [stop_cli(process) for process in processes]
    assert codes == [0, 0]
    assert all(count > 0 for count in counts) and sum(counts) == TOTAL
    assert await pull_totals(url) == (TOTAL, TOTAL)


async def _processed_metrics(ports: list[int]) -> list[float]:
    return [await _processed_metric(port) for port in ports]


async def _processed_metric(port: int) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    body = (await reader.read()).decode()
    writer.close()
    for line in body.splitlines():
        if line.startswith("regbridge_consumer_processed_total{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_sigterm_mid_stream_commits_what_was_stored_so_a_restart_redelivers_nothing(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    pull = make_settings("pull", batch_max_records=20)
    url = pull.database_url
    await create_topics(pull.kafka.bootstrap_servers, [pull.topic])
    publisher = asyncio.create_task(publish_in_chunks(pull, ["team/a"]))
    first = start_cli(pull, tmp_path / "first.log")
    try:
        await wait_for(lambda: processed_count(url, "pull"), lambda n: n >= 100, every=0.05)
        assert stop_cli(first, signal.SIGTERM) == 0
        stopped_at = await processed_count(url, "pull")
        assert stopped_at < TOTAL, "the stop must land mid-stream"
        await publisher
    finally:
        publisher.cancel()
        stop_cli(first, signal.SIGKILL)
    async with running(pull) as second:
        assert await wait_processed(url, "pull", TOTAL) == TOTAL
        stored = await wait_for(lambda: _metric(second, "processed"), lambda n: n >= TOTAL - stopped_at)
        assert stored == TOTAL - stopped_at
        assert _metric_now(second, "duplicates") == 0
    assert await pull_totals(url) == (TOTAL, TOTAL)


async def _metric(process: ConsumerProcess, name: str) -> float:
    return _metric_now(process, name)


def _metric_now(process: ConsumerProcess, name: str) -> float:
    return metric(process, f"regbridge_consumer_{name}_total")
