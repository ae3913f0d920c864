"""The cached murmur2 partitioner places every key where aiokafka's reference and librdkafka do."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as reference_murmur2
from confluent_kafka import Producer
from hypothesis import given, settings as hsettings, strategies as st

from streams.kafka_config import KEYED_PARTITIONER, producer_config
from streams.partitioning import KeyedPartitioner, murmur2, partition_of
from streams.topics import TopicSpec, ensure_topics


@given(st.binary(max_size=300))
@hsettings(max_examples=2000, deadline=None)
def test_murmur2_equals_aiokafkas(data: bytes) -> None:
    assert murmur2(data) == reference_murmur2(data)


@given(st.text(max_size=80), st.integers(min_value=1, max_value=64))
@hsettings(max_examples=1000, deadline=None)
def test_partitioner_equals_aiokafkas(key: str, partitions: int) -> None:
    all_partitions = list(range(partitions))
    expected = DefaultPartitioner()(key.encode(), all_partitions, all_partitions)
    assert KeyedPartitioner()(key.encode(), all_partitions, all_partitions) == expected
    assert partition_of(key.encode(), partitions) == expected  # cached: asked twice, same answer
    assert partition_of(key.encode(), partitions) == expected


def test_unkeyed_records_go_to_an_available_partition() -> None:
    assert KeyedPartitioner()(None, [0, 1, 2, 3], [2]) == 2
    assert KeyedPartitioner()(None, [0, 1, 2, 3], []) in {0, 1, 2, 3}


@pytest.mark.integration
def test_librdkafka_puts_keys_where_partition_of_says(settings_factory) -> None:  # noqa: ANN001
    """The confluent-kafka producers (CLI, sinks, simulator) and the stages' producer agree, on a real broker."""
    settings = settings_factory()
    topic = f"{settings.topic_prefix}partitioning"
    ensure_topics(settings, [TopicSpec(topic, 8, 1)])
    keys = [f"anonymous_id:{uuid.uuid4()}".encode() for _ in range(200)] + [b"", b"a", b"ab", b"abc"]
    placed: dict[bytes, int] = {}
    producer = Producer(producer_config(settings, **KEYED_PARTITIONER))
    for key in keys:
        producer.produce(topic, key=key, value=b"x",
                         on_delivery=lambda err, msg: placed.__setitem__(msg.key(), msg.partition()))
    assert producer.flush(30) == 0
    assert len(placed) == len(keys)
    assert {key: partition_of(key, 8) for key in keys if key} == {k: p for k, p in placed.items() if k}
