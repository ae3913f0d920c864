-- Enriched touchpoints: one row per accepted event (see docs/analysts.md).
-- ReplacingMergeTree on (day, event_id): a replayed event collapses to one
-- row (query with FINAL or through the views); the insert dedup window drops
-- a replayed batch before it is even stored.
CREATE TABLE IF NOT EXISTS {db}.touchpoints
(
    event_id                String,
    event_type              LowCardinality(String),
    channel                 LowCardinality(String),
    device_type             LowCardinality(String),
    event_time              DateTime64(3, 'UTC'),
    sent_time               Nullable(DateTime64(3, 'UTC')),
    profile_id              Nullable(String),
    anonymous_id            Nullable(String),
    device_id               Nullable(String),
    user_id                 Nullable(String),
    email_sha256            Nullable(String),
    phone_sha256            Nullable(String),
    loyalty_id              Nullable(String),
    campaign_id             Nullable(String),
    source                  LowCardinality(Nullable(String)),
    medium                  LowCardinality(Nullable(String)),
    creative_id             Nullable(String),
    page_url                Nullable(String),
    store_id                Nullable(String),
    offer_id                Nullable(String),
    discount_percent        Nullable(Float64),
    experiments             Map(String, String),
    order_id                Nullable(String),
    revenue                 Nullable(Decimal(18, 2)),
    currency                LowCardinality(Nullable(String)),
    items                   Array(Tuple(sku String, quantity Int32, unit_price Decimal(18, 2), category Nullable(String))),
    consent_marketing       Nullable(Bool),
    consent_analytics       Nullable(Bool),
    consent_personalization Nullable(Bool),
    properties              Map(String, String),
    locale                  LowCardinality(Nullable(String)),
    cost_micros             Nullable(Int64),
    source_topic            LowCardinality(String),
    source_partition        UInt16,
    source_offset           UInt64,
    ingested_at             DateTime64(3, 'UTC'),
    writer_schema           LowCardinality(String),
    inserted_at             DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY (toDate(event_time), event_id)
SETTINGS non_replicated_deduplication_window = 10000;
