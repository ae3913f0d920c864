-- Sessions (docs/design/sessions.md): one row per session id and version; the
-- highest version wins, and a session id whose touches moved to another
-- session gets a deletion row (is_deleted = 1). Read with FINAL (or through
-- sessions_resolved): one row per live session.
CREATE TABLE IF NOT EXISTS {db}.sessions
(
    session_id          String,
    session_key         String,
    identity_key        String,
    version             UInt64,
    is_deleted          UInt8,
    start_time          DateTime64(3, 'UTC'),
    end_time            DateTime64(3, 'UTC'),
    profile_id          Nullable(String),
    touches             UInt32,
    conversions         UInt32,
    revenue             Decimal(18, 2),
    channels            Array(LowCardinality(String)),
    device_type         LowCardinality(String),
    landing_event_id    String,
    landing_channel     LowCardinality(String),
    landing_campaign_id Nullable(String),
    landing_source      Nullable(String),
    landing_medium      Nullable(String),
    landing_page_url    Nullable(String),
    last_event_id       String,
    emitted_at          DateTime64(3, 'UTC'),
    inserted_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
-- A deletion row carries the session's start, so it lands in the same month partition
-- as the rows it replaces (ReplacingMergeTree only collapses within a partition).
ENGINE = ReplacingMergeTree(version, is_deleted)
PARTITION BY toYYYYMM(start_time)
ORDER BY (session_key, session_id);

-- Every live session with the profile its identity key belongs to NOW.
CREATE VIEW IF NOT EXISTS {db}.sessions_resolved AS
SELECT s.*, if(c.profile_id = '', s.profile_id, c.profile_id) AS current_profile_id
FROM {db}.sessions AS s FINAL
LEFT JOIN {db}.identity_current AS c ON c.identifier = s.identity_key;
