-- Hourly KPI rollups (docs/analysts.md, "Rollups"), kept current by a
-- materialized view on every insert into touchpoints.
--
-- Replay-safe: touchpoints is a ReplacingMergeTree, but a materialized view
-- sees every insert, so an event replayed in another batch reaches the view
-- twice. Nothing here is a plain count or sum: touches and purchases are
-- distinct event ids (uniqExact), revenue is a map event id -> revenue
-- (maxMap: a replayed purchase is the same key), so a replay, a backfill over
-- rows already counted, or two shards holding states of the same event all
-- merge to the same numbers. Profiles are uniq (approximate above ~65k per
-- group; exact below) of the profile known when the row was processed.
-- Read kpi_hourly / kpi_daily; coarser cuts: GROUP BY fewer columns of
-- kpi_hourly_state with the -Merge functions.
CREATE TABLE IF NOT EXISTS {db}.kpi_hourly_state
(
    hour        DateTime('UTC'),
    channel     LowCardinality(String),
    event_type  LowCardinality(String),
    campaign_id String,
    device_type LowCardinality(String),
    touches_state  AggregateFunction(uniqExact, String),
    profiles_state AggregateFunction(uniq, Nullable(String)),
    revenue_state  AggregateFunction(maxMap, Array(String), Array(Decimal(18, 2)))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, channel, event_type, campaign_id, device_type);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.kpi_hourly_mv TO {db}.kpi_hourly_state AS
SELECT
    toStartOfHour(toDateTime(event_time, 'UTC')) AS hour,
    channel,
    event_type,
    ifNull(campaign_id, '(not set)') AS campaign_id,
    device_type,
    uniqExactState(event_id) AS touches_state,
    uniqState(profile_id) AS profiles_state,
    maxMapState(if(event_type = 'purchase', [event_id], []),
                if(event_type = 'purchase', [ifNull(revenue, toDecimal64(0, 2))], [])) AS revenue_state
FROM {db}.touchpoints
GROUP BY hour, channel, event_type, campaign_id, device_type;

-- One row per hour, channel, event type, campaign and device type.
CREATE VIEW IF NOT EXISTS {db}.kpi_hourly AS
SELECT
    hour,
    channel,
    event_type,
    campaign_id,
    device_type,
    uniqExactMerge(touches_state) AS touches,
    uniqMerge(profiles_state) AS profiles,
    if(event_type = 'purchase', touches, 0) AS purchases,
    arraySum(maxMapMerge(revenue_state).2) AS revenue
FROM {db}.kpi_hourly_state
GROUP BY hour, channel, event_type, campaign_id, device_type;

-- The same per UTC day (distinct counts merged over the day's hours, not summed).
CREATE VIEW IF NOT EXISTS {db}.kpi_daily AS
SELECT
    toDate(hour) AS day,
    channel,
    event_type,
    campaign_id,
    device_type,
    uniqExactMerge(touches_state) AS touches,
    uniqMerge(profiles_state) AS profiles,
    if(event_type = 'purchase', touches, 0) AS purchases,
    arraySum(maxMapMerge(revenue_state).2) AS revenue
FROM {db}.kpi_hourly_state
GROUP BY day, channel, event_type, campaign_id, device_type;
