-- Real-time segments (docs/optimization.md): a profile entering or leaving a
-- segment, as the stream decided it. One row per (profile, segment, version):
-- a change is emitted when membership changes, with the next version, so the
-- table is the history ("when did this person become a VIP?") and
-- segment_members_current the members now.
--
-- ReplacingMergeTree(evaluated_at) only to collapse replays: a replayed batch
-- re-emits the same versions (the worker's state was not written), and the
-- row evaluated last wins, as it does on the topic. Versions are never merged
-- away. Partitioned by the month of the change, so old history can be dropped
-- a month at a time (the view's latest versions of a member are recent only if
-- they changed recently: drop history only past the longest-standing member).
CREATE TABLE IF NOT EXISTS {db}.segment_memberships
(
    profile_id          String,
    segment             LowCardinality(String),
    version             UInt64,
    change              LowCardinality(String),
    evaluated_at        DateTime64(3, 'UTC'),
    caused_by_event_id  Nullable(String),
    definitions_version LowCardinality(String),
    inserted_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(evaluated_at)
PARTITION BY toYYYYMM(evaluated_at)
ORDER BY (profile_id, segment, version)
SETTINGS non_replicated_deduplication_window = 10000;

-- The members now: per profile and segment the highest version (the latest
-- evaluated among replays of it), kept where it is an entry. `since` is when
-- the profile entered. A profile merged into another left its segments (its
-- touches moved), so current_profile_id joins need no identity resolution.
CREATE VIEW IF NOT EXISTS {db}.segment_members_current AS
SELECT
    profile_id,
    segment,
    latest.1 AS version,
    latest.3 AS since,
    latest.4 AS caused_by_event_id,
    latest.5 AS definitions_version
FROM
(
    SELECT
        profile_id,
        segment,
        argMax(tuple(version, change, evaluated_at, caused_by_event_id, definitions_version),
               (version, evaluated_at)) AS latest
    FROM {db}.segment_memberships
    GROUP BY profile_id, segment
)
WHERE latest.2 = 'entered';
