"""The relay end to end: real broker, real HTTP receivers."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from consumers.relay.config import Filters, PayloadFormat, RelayConfig, Subscription
from consumers.relay.process import RelayProcess
from consumers.relay.retry import RetryPolicy
from consumers.relay.signing import verify
from devstack.ports import free_port, port_open
from tests.consumers.relay.support import (
    create_topic,
    make_event,
    publish,
    relay_running,
    relay_settings,
    sample,
    until,
)
from tests.support.kafka import consume
from tests.support.receivers import Hang, Receiver, dead_url, running

pytestmark = pytest.mark.kafka
FAST = RetryPolicy(initial=0.02, max_delay=0.1, max_attempts=3, max_age=30)


def seqs(receiver: Receiver) -> list[int]:
    return [orjson.loads(body)["events"][0]["seq"] for body in receiver.bodies()]


async def test_events_arrive_in_order_despite_retries(kafka_bootstrap: str, topic_prefix: str) -> None:
    events = [make_event(n) for n in range(12)]
    await publish(kafka_bootstrap, topic_prefix, events)
    async with running(Receiver(script=[200, 500, 200, 503, 500])) as receiver:
        sub = Subscription(name="ordered", url=receiver.url, topics=("push",), retry=FAST, secret="k")
        async with relay_running(relay_settings(kafka_bootstrap, topic_prefix, sub)) as metrics:
            await receiver.wait_for(12 + 3)
        accepted = [seq for seq, req in zip(seqs(receiver), receiver.requests, strict=True)]
    # every event after a failed attempt is the same event again, so dropping repeats gives the order
    deduplicated = [s for i, s in enumerate(accepted) if i == 0 or accepted[i - 1] != s]
    assert deduplicated == list(range(12))
    assert sample(metrics, "regbridge_relay_delivered_total", "ordered") == 12
    assert sample(metrics, "regbridge_relay_retries_total", "ordered") == 3
    for request in receiver.requests:
        verify("k", request.headers["x-registry-signature"], request.body)


async def test_a_give_up_goes_to_the_dlq_and_the_relay_moves_on(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    events = [make_event(n) for n in range(3)]
    await publish(kafka_bootstrap, topic_prefix, events)
    # first event: 500 three times (gives up after max_attempts); the others: 200
    async with running(Receiver(script=[500, 500, 500])) as receiver:
        sub = Subscription(name="flaky", url=receiver.url, topics=("push",), retry=FAST)
        async with relay_running(relay_settings(kafka_bootstrap, topic_prefix, sub)) as metrics:
            await receiver.wait_for(5)
            letters = await consume(kafka_bootstrap, [f"{topic_prefix}.dlq"], expect=1)
    assert seqs(receiver) == [0, 0, 0, 1, 2]
    assert len(letters) == 1
    letter = letters[0]
    assert letter.value == orjson.dumps(dict(events[0].raw)) and letter.key == b"team-a/app"
    headers = letter.headers
    assert headers["dlq-subscription"] == b"flaky"
    assert headers["dlq-error"].startswith(b"HTTP 500")
    assert headers["dlq-error-type"] == b"DeliveryFailed"
    assert headers["dlq-attempts"] == b"3" and headers["dlq-http-status"] == b"500"
    assert headers["dlq-source-topic"] == f"{topic_prefix}.push".encode()
    assert headers["dlq-source-offset"] == b"0"
    assert headers["event-id"] == events[0].id.encode()  # the original headers are kept
    assert sample(metrics, "regbridge_relay_failed_total", "flaky") == 1
    assert sample(metrics, "regbridge_relay_delivered_total", "flaky") == 2


async def test_a_dead_subscriber_does_not_delay_another(kafka_bootstrap: str, topic_prefix: str) -> None:
    events = [make_event(n) for n in range(20)]
    await publish(kafka_bootstrap, topic_prefix, events[:1])
    # the dead one would hold its loop for 10 minutes on the first event; the live one must not wait
    patient = RetryPolicy(initial=0.05, max_delay=0.5, max_attempts=10_000, max_age=600)
    async with running(Receiver()) as live:
        dead = Subscription(name="dead", url=dead_url(), topics=("push",), retry=patient, timeout=0.5)
        alive = Subscription(name="alive", url=live.url, topics=("push",), retry=FAST)
        settings = relay_settings(kafka_bootstrap, topic_prefix, dead, alive)
        async with relay_running(settings) as metrics:
            await until(lambda: sample(metrics, "regbridge_relay_retries_total", "dead") >= 2)
            await publish(kafka_bootstrap, topic_prefix, events[1:])
            await live.wait_for(20, within=60)
            assert sample(metrics, "regbridge_relay_delivered_total", "dead") == 0
            assert sample(metrics, "regbridge_relay_failed_total", "dead") == 0  # still retrying event 0
    assert seqs(live) == list(range(20))


async def test_filters_and_cloudevents(kafka_bootstrap: str, topic_prefix: str) -> None:
    events = [
        make_event(0, repository="team-a/app"),
        make_event(1, repository="team-b/app"),
        make_event(2, repository="team-a/app", mediaType="application/octet-stream", tag=""),
        make_event(3, repository="team-a/app"),
    ]
    await publish(kafka_bootstrap, topic_prefix, events)
    async with running(Receiver()) as receiver:
        sub = Subscription(
            name="ce",
            url=receiver.url,
            topics=("push",),
            filters=Filters(repositories=("team-a/*",), manifests_only=True),
            payload=PayloadFormat.CLOUDEVENT,
        )
        async with relay_running(relay_settings(kafka_bootstrap, topic_prefix, sub)) as metrics:
            await receiver.wait_for(2)
            documents = [orjson.loads(body) for body in receiver.bodies()]
            assert sample(metrics, "regbridge_relay_skipped_total", "ce") >= 1
    assert [d["data"]["seq"] for d in documents] == [0, 3]
    assert documents[0]["type"] == "org.cncf.distribution.registry.push"
    assert documents[0]["id"] == events[0].id
    assert receiver.requests[0].headers["content-type"].startswith("application/cloudevents+json")


async def test_order_is_kept_per_partition(kafka_bootstrap: str, topic_prefix: str) -> None:
    await create_topic(kafka_bootstrap, f"{topic_prefix}.push", partitions=3)
    repositories = ["r/one", "r/two", "r/three"]
    events = [make_event(n, repository=repositories[n % 3]) for n in range(30)]
    await publish(kafka_bootstrap, topic_prefix, events)
    landed = await consume(kafka_bootstrap, [f"{topic_prefix}.push"], expect=30)
    assert len({record.partition for record in landed}) == 3
    async with running(Receiver(script=[500, 200, 503, 200, 200, 500, 500])) as receiver:
        sub = Subscription(name="parts", url=receiver.url, topics=("push",), retry=FAST)
        async with relay_running(relay_settings(kafka_bootstrap, topic_prefix, sub)):
            await receiver.wait_for(30 + 4)
    seen = [orjson.loads(body)["events"][0] for body in receiver.bodies()]
    for repository in repositories:
        mine = [e["seq"] for e in seen if e["target"]["repository"] == repository]
        without_repeats = [s for i, s in enumerate(mine) if i == 0 or mine[i - 1] != s]
        assert without_repeats == [e.raw["seq"] for e in events if e.repository == repository]


async def test_a_stop_mid_retry_loses_nothing(kafka_bootstrap: str, topic_prefix: str) -> None:
    event = make_event(7)
    await publish(kafka_bootstrap, topic_prefix, [event])
    patient = RetryPolicy(initial=0.05, max_delay=0.2, max_attempts=10_000, max_age=600)
    async with running(Receiver(default=500)) as failing:
        sub = Subscription(name="restart", url=failing.url, topics=("push",), retry=patient)
        settings = relay_settings(kafka_bootstrap, topic_prefix, sub)
        async with relay_running(settings) as metrics:
            await until(lambda: sample(metrics, "regbridge_relay_retries_total", "restart") >= 2)
    # the stop cut the retry short without committing: a restarted relay delivers the event
    async with running(Receiver()) as working:
        again = replace(settings, config=RelayConfig((replace(sub, url=working.url),)))
        async with relay_running(again):
            await working.wait_for(1)
    assert seqs(working) == [7]
    assert working.requests[0].headers["x-registry-event-id"] == event.id


async def test_an_undecodable_record_is_dead_lettered_with_its_subscription(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(f"{topic_prefix}.push", b"not json", key=b"k")
    finally:
        await producer.stop()
    await publish(kafka_bootstrap, topic_prefix, [make_event(1)])
    async with running(Receiver()) as receiver:
        sub = Subscription(name="poison", url=receiver.url, topics=("push",), retry=FAST)
        async with relay_running(relay_settings(kafka_bootstrap, topic_prefix, sub)):
            await receiver.wait_for(1)
            letters = await consume(kafka_bootstrap, [f"{topic_prefix}.dlq"], expect=1)
    assert seqs(receiver) == [1]
    (letter,) = letters
    assert letter.value == b"not json"
    assert letter.headers["dlq-subscription"] == b"poison"
    assert letter.headers["dlq-handler"] == b"relay"
    assert letter.headers["dlq-error-type"] == b"InvalidEvent"
    assert letter.headers["dlq-group"].endswith(b".poison")


async def test_metrics_and_health_are_served(kafka_bootstrap: str, topic_prefix: str) -> None:
    await publish(kafka_bootstrap, topic_prefix, [make_event(1), make_event(2)])
    port = free_port()
    async with running(Receiver(script=[500])) as receiver:
        sub = Subscription(name="seen", url=receiver.url, topics=("push",), retry=FAST)
        settings = relay_settings(
            kafka_bootstrap, topic_prefix, sub, metrics_port=port, metrics_host="127.0.0.1"
        )
        async with relay_running(settings), httpx.AsyncClient() as client:
            await receiver.wait_for(3)
            await until(lambda: port_open("127.0.0.1", port))
            text = ""
            for _ in range(100):  # the batch's lag is reported after its commit
                text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                if 'regbridge_consumer_lag{handler="relay.seen"' in text:
                    break
                await asyncio.sleep(0.1)
            health = await client.get(f"http://127.0.0.1:{port}/healthz")
    assert 'regbridge_relay_delivered_total{subscription="seen"} 2.0' in text
    assert 'regbridge_relay_retries_total{subscription="seen"} 1.0' in text
    assert 'regbridge_relay_attempt_seconds_count{subscription="seen"} 3.0' in text
    assert 'regbridge_consumer_lag{handler="relay.seen",partition="0"' in text
    assert health.status_code == 200


async def test_a_broker_down_at_start_is_retried_until_stopped(caplog: pytest.LogCaptureFixture) -> None:
    sub = Subscription(name="early", url=dead_url(), topics=("push",))
    settings = relay_settings(f"127.0.0.1:{free_port()}", "nowhere.registry.events", sub)
    process = RelayProcess(settings)
    with caplog.at_level(logging.WARNING, logger="consumers.relay"):
        task = asyncio.create_task(process.run(signals=False))
        await until(lambda: "dead-letter producer start failed, retrying" in caplog.text)
        process.request_stop()
        await asyncio.wait_for(task, timeout=30)
    assert task.exception() is None


async def test_a_receiver_that_always_times_out_is_given_up(kafka_bootstrap: str, topic_prefix: str) -> None:
    await publish(kafka_bootstrap, topic_prefix, [make_event(0), make_event(1)])
    # the first event hangs every time; the second is answered at once
    async with running(Receiver(script=[Hang(5.0), Hang(5.0), Hang(5.0)])) as receiver:
        sub = Subscription(name="slow", url=receiver.url, topics=("push",), retry=FAST, timeout=0.3)
        async with relay_running(relay_settings(kafka_bootstrap, topic_prefix, sub)) as metrics:
            await receiver.wait_for(4)
            letters = await consume(kafka_bootstrap, [f"{topic_prefix}.dlq"], expect=1)
            await until(lambda: sample(metrics, "regbridge_relay_delivered_total", "slow") == 1)
    assert seqs(receiver) == [0, 0, 0, 1]
    (letter,) = letters
    assert letter.headers["dlq-error"].startswith(b"timeout: ")
    assert "dlq-http-status" not in letter.headers and letter.headers["dlq-attempts"] == b"3"


async def test_a_stop_while_several_partitions_retry_is_clean(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    await create_topic(kafka_bootstrap, f"{topic_prefix}.push", partitions=2)
    events = [make_event(n, repository=f"repo/{n}") for n in range(8)]
    await publish(kafka_bootstrap, topic_prefix, events)
    landed = await consume(kafka_bootstrap, [f"{topic_prefix}.push"], expect=8)
    assert len({record.partition for record in landed}) == 2
    patient = RetryPolicy(initial=0.05, max_delay=0.2, max_attempts=10_000, max_age=600)
    async with running(Receiver(default=500)) as failing:
        sub = Subscription(name="multi", url=failing.url, topics=("push",), retry=patient)
        settings = relay_settings(kafka_bootstrap, topic_prefix, sub)
        async with relay_running(settings) as metrics:
            # both partitions' first events are retrying at once
            await until(lambda: sample(metrics, "regbridge_relay_retries_total", "multi") >= 4)
            await until(
                lambda: len({orjson.loads(r.body)["events"][0]["seq"] for r in failing.requests}) >= 2
            )
    # relay_running awaited the process: a stop in the middle of two partitions' retries ended it cleanly
    async with running(Receiver()) as working:
        again = replace(settings, config=RelayConfig((replace(sub, url=working.url),)))
        async with relay_running(again):
            await working.wait_for(8)
    assert sorted(seqs(working)) == list(range(8))
