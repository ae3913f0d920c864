-- Journeys (docs/design/journeys.md): one row per journey id and version; the
-- highest version wins, and a journey id that no longer exists (its profile
-- merged into another, or its first touch changed) gets a deletion row
-- (is_deleted = 1). Read with FINAL: one row per live journey. profile_id is
-- the profile that owns the journey's touches now: the stream moves touches
-- on every identity merge, so no resolution view is needed.
CREATE TABLE IF NOT EXISTS {db}.journeys
(
    journey_id          String,
    profile_id          String,
    version             UInt64,
    is_deleted          UInt8,
    start_time          DateTime64(3, 'UTC'),
    end_time            DateTime64(3, 'UTC'),
    converted           UInt8,
    touches             UInt32,
    sessions            UInt32,
    channel_path        Array(LowCardinality(String)),
    devices             UInt32,
    device_types        Array(LowCardinality(String)),
    cross_device        UInt8,
    first_event_id      String,
    first_channel       LowCardinality(String),
    first_campaign_id   Nullable(String),
    first_source        Nullable(String),
    first_medium        Nullable(String),
    last_event_id       String,
    last_channel        LowCardinality(String),
    last_campaign_id    Nullable(String),
    conversion_event_id Nullable(String),
    conversion_type     LowCardinality(Nullable(String)),
    conversion_channel  LowCardinality(Nullable(String)),
    time_to_convert_ms  Nullable(Int64),
    value               Decimal(18, 2),
    emitted_at          DateTime64(3, 'UTC'),
    inserted_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
-- A deletion row carries the journey's start, so it lands in the same month partition
-- as the rows it replaces (ReplacingMergeTree only collapses within a partition).
ENGINE = ReplacingMergeTree(version, is_deleted)
PARTITION BY toYYYYMM(start_time)
ORDER BY (profile_id, journey_id);
