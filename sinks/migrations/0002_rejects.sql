-- Dead letters: every rejected message with its reason and original bytes.
-- One row per (source position, stage): a replayed reject collapses.
CREATE TABLE IF NOT EXISTS {db}.rejects
(
    reason           LowCardinality(String),
    detail           String,
    field            Nullable(String),
    event_id         Nullable(String),
    stage            LowCardinality(String),
    source_topic     LowCardinality(String),
    source_partition UInt16,
    source_offset    UInt64,
    source_timestamp Nullable(DateTime64(3, 'UTC')),
    source_key       Nullable(String),
    headers          Array(Tuple(key String, value Nullable(String))),
    payload          String,
    rejected_at      DateTime64(3, 'UTC'),
    inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(rejected_at)
ORDER BY (source_topic, source_partition, source_offset, stage)
SETTINGS non_replicated_deduplication_window = 10000;
