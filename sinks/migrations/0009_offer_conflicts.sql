-- Offer conflicts (docs/optimization.md, Offer consistency): a profile shown
-- two different offers of one campaign within the offer window ([offers]
-- window of the contact policy), as the stream detected them. One row per
-- conflict: both offers, their channels, event types, times and event ids.
--
-- ReplacingMergeTree(detected_at) ORDER BY conflict_id: a replayed batch, or a
-- merge that brings both touches into another profile, emits a conflict again
-- with the same id (a hash of the two event ids); the row detected last wins,
-- so profile_id is the latest profile that held both touches (follow later
-- merges with identity_current). Partitioned by the month of the second show,
-- which is the same in every copy of a conflict (detected_at is not: copies in
-- two partitions would never be merged), so old months can be dropped.
CREATE TABLE IF NOT EXISTS {db}.offer_conflicts
(
    conflict_id              String,
    profile_id               String,
    campaign_id              Nullable(String),
    first_offer_id           String,
    first_discount_percent   Nullable(Float64),
    first_channel            LowCardinality(String),
    first_event_type         LowCardinality(String),
    first_shown_at           DateTime64(3, 'UTC'),
    first_event_id           String,
    second_offer_id          String,
    second_discount_percent  Nullable(Float64),
    second_channel           LowCardinality(String),
    second_event_type        LowCardinality(String),
    second_shown_at          DateTime64(3, 'UTC'),
    second_event_id          String,
    window                   LowCardinality(String),
    detected_at              DateTime64(3, 'UTC'),
    policy_version           LowCardinality(String),
    inserted_at              DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(detected_at)
PARTITION BY toYYYYMM(second_shown_at)
ORDER BY conflict_id
SETTINGS non_replicated_deduplication_window = 10000;
