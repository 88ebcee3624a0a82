"""The bridge asks the broker for an idempotent producer; Tansu (like a broker with
idempotence switched off) refuses. That refusal is expected and safe, so a first run must not
show it as an error: the bridge says once, at info, what it means, and aiokafka's own
``level=error`` line about the refused InitProducerIdRequest is left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.publisher import INIT_PRODUCER_ID_ERROR
from tests.support.pipeline import bridge_process, pipeline_env, start_on_free_port, wait_until

pytestmark = pytest.mark.kafka

REFUSAL = "the broker does not grant idempotent producers"


def test_the_expected_refusal_is_said_once_at_info(tmp_path: Path, kafka_bootstrap: str) -> None:
    settings = pipeline_env(kafka_bootstrap, "t.probe")
    bridge, _port = start_on_free_port(lambda port: bridge_process(settings, tmp_path, port))
    try:
        wait_until(lambda: "Kafka producer connected" in bridge.log_path.read_text(), "the producer")
    finally:
        bridge.stop()
    lines = [json.loads(line) for line in bridge.log_path.read_text().splitlines() if line.startswith("{")]
    assert [line for line in lines if line["level"] in ("error", "warning")] == [], "nothing alarming"
    said = [line for line in lines if REFUSAL in line["msg"]]
    assert len(said) == 1 and said[0]["level"] == "info", said
    assert said[0]["logger"] == "bridge.publisher" and said[0]["init_producer_id"] == "UnknownError"
    assert "the consumers count it once" in said[0]["msg"], "it says what it means"
    assert not any(INIT_PRODUCER_ID_ERROR in line["msg"] for line in lines)
    connected = [line for line in lines if line["msg"] == "Kafka producer connected"]
    assert connected[0]["idempotent"] is False
