-- Identity stitching in ClickHouse (docs/design/identity.md, docs/analysts.md).
-- Old touchpoint rows are never rewritten: each row keeps the profile known
-- when it was processed plus the identifier it was stitched under
-- (identity_key); identity_overrides maps every identifier to its current
-- profile, and touchpoints_resolved joins the two.

ALTER TABLE {db}.touchpoints ADD COLUMN IF NOT EXISTS identity_key Nullable(String) AFTER profile_id;

-- Every identity outcome, as emitted (history: merges, splits, shared, conflicts, erasures).
-- A replayed change has the same (identifier, kind, version, other) and collapses.
CREATE TABLE IF NOT EXISTS {db}.identity_changes
(
    kind                LowCardinality(String),
    identifier          String,
    profile_id          Nullable(String),
    previous_profile_id Nullable(String),
    other_identifier    Nullable(String),
    other_profile_id    Nullable(String),
    reason              Nullable(String),
    event_id            Nullable(String),
    event_time          Nullable(DateTime64(3, 'UTC')),
    version             UInt64,
    changed_at          DateTime64(3, 'UTC'),
    inserted_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(changed_at)
ORDER BY (identifier, kind, version, ifNull(other_identifier, ''))
SETTINGS non_replicated_deduplication_window = 10000, allow_nullable_key = 1;

-- identifier -> current profile: the highest version wins (query identity_current, or FINAL).
CREATE TABLE IF NOT EXISTS {db}.identity_overrides
(
    identifier String,
    profile_id String,
    version    UInt64,
    changed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY identifier;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.identity_overrides_mv TO {db}.identity_overrides AS
SELECT identifier, assumeNotNull(profile_id) AS profile_id, version, changed_at
FROM {db}.identity_changes
WHERE kind = 'assigned' AND profile_id IS NOT NULL;

-- Links refused by a rule: both sides and the event that carried the link.
CREATE TABLE IF NOT EXISTS {db}.identity_conflicts
(
    identifier       String,
    other_identifier String,
    reason           LowCardinality(String),
    profile_id       Nullable(String),
    other_profile_id Nullable(String),
    event_id         Nullable(String),
    event_time       Nullable(DateTime64(3, 'UTC')),
    changed_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(changed_at)
ORDER BY (identifier, other_identifier, reason);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.identity_conflicts_mv TO {db}.identity_conflicts AS
SELECT identifier, ifNull(other_identifier, '') AS other_identifier, ifNull(reason, '') AS reason, profile_id,
       other_profile_id, event_id, event_time, changed_at
FROM {db}.identity_changes
WHERE kind = 'conflict';

-- GDPR erasures: that one happened, when, and how much; no identifier, no PII.
CREATE TABLE IF NOT EXISTS {db}.identity_erasures
(
    request_id        String,
    profile_id        String,
    identifiers       UInt32,
    touchpoints       UInt64,
    requested_at      DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (requested_at, request_id);

CREATE VIEW IF NOT EXISTS {db}.identity_current AS
SELECT identifier, argMax(o.profile_id, o.version) AS profile_id, max(o.version) AS version,
       argMax(o.changed_at, o.version) AS changed_at
FROM {db}.identity_overrides AS o
GROUP BY identifier;

-- Every stored touchpoint with the profile its identity_key belongs to NOW.
CREATE VIEW IF NOT EXISTS {db}.touchpoints_resolved AS
SELECT t.*, if(c.profile_id = '', t.profile_id, c.profile_id) AS current_profile_id
FROM {db}.touchpoints AS t FINAL
LEFT JOIN {db}.identity_current AS c ON c.identifier = t.identity_key;
