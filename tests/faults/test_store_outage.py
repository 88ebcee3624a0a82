"""Fault test 5: the store taken away under a steady registry load, and a consumer SIGKILLed
in the middle of a batch.

The consumers reach PostgreSQL through a TCP proxy. The proxy is stopped (every connection
cut, the port closed), so each consumer holds a batch it cannot write; once the ``pull``
consumer has failed on its batch at least once it is SIGKILLed, mid-batch, its offsets not
committed. The load goes on for a while without a store. Then the proxy is started again,
the ``pull`` consumer too, and the store must match exactly what the registry did.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.faults.support import (
    BridgeProcess,
    ThreadedProxy,
    consumer_metric,
    read_back,
    registry_under_load,
    running_consumers,
    unique_events,
)
from tests.support import expected_events
from tests.support.database import create_database, drop_database, migrate_store
from tests.support.expected_store import ids_by_handler, store_differences, wait_processed
from tests.support.pipeline import wait_until
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.kafka

FAILED = "regbridge_consumer_failed_total"
SMALL_BATCHES = {"REGBRIDGE_CONSUMER_BATCH_MAX_RECORDS": "5", "REGBRIDGE_CONSUMER_MIGRATE_ON_START": "false"}


def kill_mid_batch(consumer: ServiceProcess) -> None:
    """SIGKILL once the consumer failed to write a batch (the store is away): it holds one."""
    failed = consumer_metric(consumer, FAILED)
    wait_until(lambda: consumer_metric(consumer, FAILED) > failed, f"{consumer.name} to fail a batch")
    consumer.signal(signal.SIGKILL)
    consumer.wait(timeout=30)


async def test_store_away_and_a_consumer_killed_mid_batch(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, postgres_admin_url: str, artifacts_dir: Path
) -> None:
    url = await create_database(postgres_admin_url)
    await migrate_store(url)
    proxy = ThreadedProxy(url)
    proxy.start()
    logs, bridge = (
        tmp_path / "logs",
        BridgeProcess(kafka_bootstrap, topic_prefix, tmp_path / "logs", tmp_path / "spool"),
    )
    try:
        bridge.start()
        with running_consumers(kafka_bootstrap, topic_prefix, proxy.url, logs, **SMALL_BATCHES) as consumers:
            with registry_under_load(tmp_path, bridge) as (registry, tap, load):
                load.wait_rounds(3)
                proxy.cut()
                kill_mid_batch(consumers["pull"])
                load.wait_rounds(4)  # events keep coming; the store is away
                result = load.stop()
                registry.wait_until_delivered(timeout=120)
                records, figures = await read_back(kafka_bootstrap, topic_prefix, tap)
            restored = time.monotonic()
            proxy.restore()
            consumers["pull"].start(timeout=60)
            expected = ids_by_handler(records, topic_prefix)
            await wait_processed(url, expected)
            recover = time.monotonic() - restored
            differences = await store_differences(url, expected, result)
    finally:
        bridge.stop()
        proxy.close()
        await drop_database(postgres_admin_url, url)
    figures.test, figures.faults = (
        "store away, consumer killed",
        "PostgreSQL cut + consumer SIGKILL mid-batch",
    )
    figures.recover_seconds = round(recover, 2)
    figures.extra = {"backend": "postgresql", "store_differences": differences, "answers": tap.statuses()}
    figures.write(artifacts_dir)
    assert differences == []
    assert figures.lost == 0 and figures.unexpected == 0
    assert expected_events.pull_differences(unique_events(records), result) == []
