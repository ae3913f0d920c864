-- Attribution (docs/attribution.md): what `touchline attribution run` computed.
-- A run credits the conversions of the journeys that ended in
-- [window_start, window_end) under every model, by channel and by campaign.
-- Runs are never updated: a new run adds rows; attribution_latest shows the
-- newest run only.

-- One row per run: its window, its inputs and what it could not credit.
CREATE TABLE IF NOT EXISTS {db}.attribution_runs
(
    run_id                   String,
    computed_at              DateTime64(3, 'UTC'),
    window_start             DateTime64(3, 'UTC'),
    window_end               DateTime64(3, 'UTC'),
    lookback_days            Float64,
    paths                    UInt64,
    converted_paths          UInt64,
    conversions_value        Decimal(18, 2),
    unattributed_conversions UInt64,
    unattributed_value       Decimal(18, 2),
    seconds                  Float64
)
ENGINE = MergeTree
ORDER BY run_id;

-- One row per run, model, key kind (credited_by: channel | campaign) and key.
CREATE TABLE IF NOT EXISTS {db}.attribution_credits
(
    run_id      String,
    model       LowCardinality(String),
    credited_by LowCardinality(String),
    key         String,
    conversions Float64,
    value       Float64
)
ENGINE = MergeTree
ORDER BY (run_id, model, credited_by, key);

-- The newest run's credits, with its window.
CREATE VIEW IF NOT EXISTS {db}.attribution_latest AS
SELECT c.*, r.computed_at, r.window_start, r.window_end, r.lookback_days
FROM {db}.attribution_credits AS c
INNER JOIN {db}.attribution_runs AS r ON r.run_id = c.run_id
WHERE c.run_id = (SELECT argMax(run_id, computed_at) FROM {db}.attribution_runs);
