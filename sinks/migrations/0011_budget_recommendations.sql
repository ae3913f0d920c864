-- Budget recommendations (docs/optimization.md): what `touchline optimize budget`
-- published to recommendations.budget, one row per run and arm, with the
-- evidence behind each share. Runs are never updated: each run (every minute
-- by default) adds its rows, so the table is the history ("how did the email
-- share move this week?") and budget_recommendations_latest the run in force.
--
-- ReplacingMergeTree only to collapse the sink's replays of a record (same
-- run_id and arm); ORDER BY starts with (arm_kind, arm, run_at) so an arm's
-- history reads as one range. Partitioned by the month of the run: a year of
-- minute-by-minute runs of 50 arms is 26M rows, dropped a month at a time.
CREATE TABLE IF NOT EXISTS {db}.budget_recommendations
(
    run_id        String,
    run_at        DateTime64(3, 'UTC'),
    arm_kind      LowCardinality(String),
    arm           String,
    arms          UInt32,
    share         Float64,
    p_best        Float64,
    objective     LowCardinality(String),
    basis         LowCardinality(String),
    mean          Float64,
    low           Float64,
    high          Float64,
    touches       UInt64,
    conversions   Float64,
    revenue       Float64,
    cost_micros   Nullable(Int64),
    paid_touches  UInt64,
    alpha         Float64,
    beta          Float64,
    prior_alpha   Float64,
    prior_beta    Float64,
    floor         Float64,
    window_start  DateTime64(3, 'UTC'),
    window_end    DateTime64(3, 'UTC'),
    draws         UInt32,
    seed          UInt64,
    inserted_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(run_at)
PARTITION BY toYYYYMM(run_at)
ORDER BY (arm_kind, arm, run_at, run_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- The recommendation in force per arm kind: every arm of the newest run that
-- is complete (as many arms stored as the run compared: the sink may have
-- written part of a run only). A kind without a run in a while still shows
-- its last one: compare run_at with now() to see how fresh it is.
CREATE VIEW IF NOT EXISTS {db}.budget_recommendations_latest AS
SELECT
    run_id, run_at, arm_kind, arm, arms, share, p_best, objective, basis, mean, low, high, touches,
    conversions, revenue, cost_micros, paid_touches, alpha, beta, prior_alpha, prior_beta, floor,
    window_start, window_end, draws, seed
FROM {db}.budget_recommendations FINAL
WHERE (arm_kind, run_id) IN
(
    SELECT arm_kind, argMax(run_id, run_at)
    FROM
    (
        SELECT arm_kind, run_id, any(run_at) AS run_at
        FROM {db}.budget_recommendations FINAL
        GROUP BY arm_kind, run_id
        HAVING uniqExact(arm) = any(arms)
    )
    GROUP BY arm_kind
);
