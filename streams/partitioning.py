"""The partition of a key on our topics: Kafka's murmur2, as every producer of an internal topic computes it.

State is co-partitioned with the topics that feed it (an identifier's events,
its commands and its identity state all live on partition murmur2(key)), so
every producer must agree: Kafka's Java clients and aiokafka use murmur2 of the
key, and the confluent-kafka producers are told to (``KEYED_PARTITIONER`` in
streams/kafka_config.py: librdkafka's C murmur2).

aiokafka's own murmur2 is a byte-by-byte Python loop (about 9.5 us a key on
a 2-core machine; a worker sends about 8 keyed records per event). Here the
same function reads the key's 32-bit words with one ``struct.unpack`` and the
result per key is cached: keys repeat (an identifier, a profile, a session key
per event of that person), so most sends cost a dict lookup. aiokafka's
``murmur2`` stays the reference (tests/streams/test_partitioning.py).
"""

from __future__ import annotations

import random
import struct
from functools import lru_cache

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF
# Distinct keys remembered: about 150 bytes each, so at most ~40 MB per worker process.
CACHE_KEYS = 262_144


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) of ``data``, as an unsigned 32-bit int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    words = length // 4
    for k in struct.unpack_from(f"<{words}I", data) if words else ():
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length & 3
    if tail:
        rest = length & ~3
        if tail == 3:
            h ^= data[rest + 2] << 16
        if tail >= 2:
            h ^= data[rest + 1] << 8
        h ^= data[rest]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


@lru_cache(maxsize=CACHE_KEYS)
def partition_of(key: bytes, partitions: int) -> int:
    """The partition of ``key`` on a topic of ``partitions`` partitions (the Java client's formula)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class KeyedPartitioner:
    """aiokafka's partitioner interface, with the cached murmur2: ``producer_partitioner`` of the Faust app."""

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:  # as aiokafka's DefaultPartitioner: any available partition
            return random.choice(available or all_partitions)
        return all_partitions[partition_of(key, len(all_partitions))]
