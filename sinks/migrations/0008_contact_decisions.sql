-- Contact decisions (docs/optimization.md): whether a profile may be contacted
-- on a channel, why, and until when, as the stream decided them. One row per
-- (profile, channel, version): a decision is emitted when it changes, with
-- the next version, so the table is the history ("why was this email
-- suppressed on Tuesday?") and contact_decisions_latest the current state.
--
-- ReplacingMergeTree(decided_at) only to collapse replays: a replayed batch
-- re-emits the same versions (the worker's state was not written), and the
-- row decided last wins, as it does on the topic. Versions of a channel are
-- never merged away. Partitioned by the month of the decision, so old history
-- can be dropped a month at a time.
CREATE TABLE IF NOT EXISTS {db}.contact_decisions
(
    profile_id         String,
    channel            LowCardinality(String),
    version            UInt64,
    allowed            UInt8,
    reason             LowCardinality(String),
    counts             Map(String, UInt32),
    next_allowed_at    Nullable(DateTime64(3, 'UTC')),
    decided_at         DateTime64(3, 'UTC'),
    caused_by_event_id Nullable(String),
    policy_version     LowCardinality(String),
    inserted_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(decided_at)
PARTITION BY toYYYYMM(decided_at)
ORDER BY (profile_id, channel, version)
SETTINGS non_replicated_deduplication_window = 10000;

-- The decision in force per profile and channel: the highest version (the
-- latest decided among replays of it). A suppression whose next_allowed_at
-- has passed has lapsed: compare it with now() to see whether it still holds.
-- One tuple, because argMax skips NULLs (an allowed decision has no
-- next_allowed_at and must not show the previous one's).
CREATE VIEW IF NOT EXISTS {db}.contact_decisions_latest AS
SELECT
    profile_id,
    channel,
    latest.1 AS version,
    latest.2 AS allowed,
    latest.3 AS reason,
    latest.4 AS counts,
    latest.5 AS next_allowed_at,
    latest.6 AS decided_at,
    latest.7 AS caused_by_event_id,
    latest.8 AS policy_version
FROM
(
    SELECT
        profile_id,
        channel,
        argMax(tuple(version, allowed, reason, counts, next_allowed_at, decided_at, caused_by_event_id,
                     policy_version), (version, decided_at)) AS latest
    FROM {db}.contact_decisions
    GROUP BY profile_id, channel
);
