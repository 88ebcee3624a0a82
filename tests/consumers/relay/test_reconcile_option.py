"""``include_reconcile``: relay subscriptions get nothing the reconcile caused (its
observations, the pull events of its own requests) unless they ask for it, so a backfill
of many old images fires no deploy hook."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from common.contract import RECONCILE_ORIGIN, RECONCILE_USER_AGENT, Event, Observation
from common.environ import Environ
from consumers.handlers.base import Delivery
from consumers.relay.config import PayloadFormat, Subscription, parse_config
from consumers.relay.metrics import RelayMetrics
from consumers.relay.settings import load_settings
from consumers.relay.subscriber import SubscriptionRelay
from consumers.runner import StopRequest
from consumers.yamlconfig import YamlFieldError

ON = "subscriptions:\n  - name: deploy\n    url: http://127.0.0.1:9/hook\n    include_reconcile: true\n"


def test_the_option_is_off_unless_set() -> None:
    [on] = parse_config(ON, "relay.yaml", {}).subscriptions
    [off] = parse_config(ON.replace("    include_reconcile: true\n", ""), "relay.yaml", {}).subscriptions
    assert on.include_reconcile and not off.include_reconcile
    with pytest.raises(YamlFieldError, match=r"relay.yaml:4: subscriptions\[0\].include_reconcile"):
        parse_config(ON.replace("true", "maybe"), "relay.yaml", {})


def test_the_reconcile_topic_is_read_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "relay.yaml"
    path.write_text(ON)
    settings = load_settings(
        Environ({"REGBRIDGE_RELAY_CONFIG": str(path), "REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS": "k:1"})
    )
    [on] = settings.config.subscriptions
    assert settings.topics(on)[-1] == "registry.events.reconcile"
    assert "registry.events.reconcile" not in settings.topics(replace(on, include_reconcile=False))


def sink(include: bool) -> SubscriptionRelay:
    subscription = Subscription(
        "deploy", "http://127.0.0.1:9/hook", include_reconcile=include, payload=PayloadFormat.REGISTRY
    )
    metrics = RelayMetrics(CollectorRegistry()).of("deploy")
    return SubscriptionRelay(subscription, None, metrics, StopRequest())  # type: ignore[arg-type]


def test_observations_and_the_reconciles_pulls_are_left_out_unless_asked() -> None:
    observation = Observation(
        "o1", "tag", True, "team/a", "2026-12-01T10:00:00Z", "p", tag="1", digest="sha256:a"
    )
    observed = Delivery(observation.event(), datetime(2026, 12, 1), "p.reconcile", 0, 0, RECONCILE_ORIGIN)
    pull = Event.from_raw(
        {
            "id": "e",
            "action": "pull",
            "target": {"repository": "team/a"},
            "request": {"useragent": RECONCILE_USER_AGENT},
        }
    )
    its_pull = Delivery(pull, datetime(2026, 12, 1), "p.pull", 0, 1)
    push = Event.from_raw({"id": "f", "action": "push", "target": {"repository": "team/a", "tag": "1"}})
    real = Delivery(push, datetime(2026, 12, 1), "p.push", 0, 2)
    assert sink(False).plan(observed) is None and sink(False).plan(its_pull) is None
    assert sink(False).plan(real) is not None
    assert sink(True).plan(observed) is not None and sink(True).plan(its_pull) is not None
