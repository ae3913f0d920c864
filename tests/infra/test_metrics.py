"""infra/metrics.py: bounded labels, documented names, lag from librdkafka statistics, partition gauges."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY, Gauge
from prometheus_client.metrics import MetricWrapperBase

from infra import metrics

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
# Labels that stay few whatever the traffic: never an identifier, a profile or an event id. A segment is a name
# of the operator's definitions file (streams/optimization/segment_definitions.py), a change entered or left.
BOUNDED_LABELS = {"topic", "partition", "stage", "reason", "table", "kind", "outcome", "consumer", "channel",
                  "decision", "segment", "change"}


def _declared() -> dict[str, MetricWrapperBase]:
    return {m._name: m for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)}


def test_every_metric_is_prefixed_bounded_and_documented() -> None:
    documented = set(re.findall(r"^\| `(touchline_\w+)`", DOCS.read_text(), re.MULTILINE))
    exposed = set()
    for name, metric in _declared().items():
        assert name.startswith("touchline_"), name
        assert set(metric._labelnames) <= BOUNDED_LABELS, (name, metric._labelnames)
        assert metric._documentation, name
        exposed.add(f"{name}_total" if metric._type == "counter" else name)
    assert exposed == documented, f"docs/metrics.md out of date: missing {exposed - documented}, " \
                                  f"stale {documented - exposed}"


def _stats(partitions: dict[str, dict]) -> str:
    return json.dumps({"name": "rdkafka#consumer-1", "type": "consumer", "topics": {
        "t.enriched": {"topic": "t.enriched", "partitions": partitions}}})


def test_consumer_lag_from_librdkafka_statistics() -> None:
    doc = json.loads(_stats({
        "0": {"fetch_state": "active", "consumer_lag": 0, "hi_offset": 40, "committed_offset": 40},
        "1": {"fetch_state": "active", "consumer_lag": 12, "hi_offset": 52, "committed_offset": 40},
        "2": {"fetch_state": "active", "consumer_lag": -1, "hi_offset": 9, "lo_offset": 2, "committed_offset": -1001},
        "3": {"fetch_state": "none", "consumer_lag": -1, "hi_offset": -1, "committed_offset": -1001},
        "-1": {"fetch_state": "none", "consumer_lag": -1},
    }))
    assert metrics.consumer_lags(doc) == {("t.enriched", "0"): 0, ("t.enriched", "1"): 12, ("t.enriched", "2"): 7}
    assert metrics.consumer_lags({"topics": {}}) == {}


def test_lag_gauge_forgets_revoked_partitions_and_survives_garbage() -> None:
    on_stats = metrics.kafka_lag_stats("test-sink")

    def lag(partition: str) -> float | None:
        return REGISTRY.get_sample_value("touchline_consumer_lag",
                                         {"consumer": "test-sink", "topic": "t.enriched", "partition": partition})

    on_stats(_stats({"0": {"fetch_state": "active", "consumer_lag": 3}, "1": {"fetch_state": "active",
                                                                             "consumer_lag": 4}}))
    assert (lag("0"), lag("1")) == (3, 4)
    on_stats(_stats({"1": {"fetch_state": "active", "consumer_lag": 0}}))  # partition 0 revoked
    assert (lag("0"), lag("1")) == (None, 0)
    on_stats("not json")  # ignored: consuming must go on
    on_stats(json.dumps({"topics": {"t.enriched": {"partitions": ["not", "a", "mapping"]}}}))
    assert lag("1") == 0


def test_partition_values_touch_only_their_prefix() -> None:
    gauge = Gauge("touchline_test_partition_values", "test", ["consumer", "partition"], registry=None)
    gauge.labels("other", "0").set(9)
    metrics.set_partition_values(gauge, {("0",): 1, ("1",): 2}, "mine")
    metrics.set_partition_values(gauge, {("1",): 5}, "mine")
    samples = {tuple(s.labels.values()): s.value for family in gauge.collect() for s in family.samples}
    assert samples == {("other", "0"): 9, ("mine", "1"): 5}


def test_table_label_drops_the_database() -> None:
    assert metrics.table_label("t_123.touchpoints") == "touchpoints"
    assert metrics.table_label("touchpoints") == "touchpoints"
