-- One experiment's variants: people exposed, converters, revenue (input of `touchline kpi experiment`).
--
-- Definition: a person (current profile, touchpoints_resolved) is exposed to
-- the experiment when a touch in [start, end) carries it in its experiments
-- map (experiments[experiment_id] = variant). A person exposed to two or more
-- variants (two devices in different buckets that identity later merged, or a
-- broken assignment) is kept in the variant of their first exposure (earliest
-- event_time, then event_id): an intent-to-treat rule that keeps everyone
-- exposed and never drops a variant's unlucky people. The outcome counts only
-- after that first exposure: converted journeys (journeys FINAL, any goal)
-- whose end_time is at or after it and before end; revenue is those
-- journeys' value (the goal's revenue). Per-person revenue r gives revenue =
-- sum(r) and revenue_sq = sum(r * r), enough for the variance of revenue per
-- person (sinks/kpi/experiments.py).
-- Columns:
--   variant_id  the variant
--   profiles    people first exposed to it
--   converters  of those, people with a conversion after exposure
--   revenue     their conversions' revenue
--   revenue_sq  sum over its people of (the person's revenue)^2
-- Parameters: start (inclusive), end (exclusive), experiment_id.
WITH
    exposures AS (
        SELECT
            current_profile_id AS profile,
            argMin(experiments[{experiment_id:String}], (event_time, event_id)) AS variant,
            min(event_time) AS exposed_at
        FROM {db}.touchpoints_resolved
        WHERE event_time >= {start:DateTime64(3, 'UTC')} AND event_time < {end:DateTime64(3, 'UTC')}
          AND mapContains(experiments, {experiment_id:String})
          AND current_profile_id IS NOT NULL
        GROUP BY profile
    ),
    outcomes AS (
        SELECT
            e.profile AS profile,
            any(e.variant) AS variant,
            countIf(j.profile_id != '' AND j.end_time >= e.exposed_at) AS conversions,
            toDecimal128(sumIf(j.value, j.profile_id != '' AND j.end_time >= e.exposed_at), 2) AS amount
        FROM exposures AS e
        LEFT JOIN (
            SELECT profile_id, end_time, value
            FROM {db}.journeys FINAL
            WHERE converted = 1 AND end_time < {end:DateTime64(3, 'UTC')}
        ) AS j ON j.profile_id = e.profile
        GROUP BY e.profile
    )
SELECT
    variant AS variant_id,
    count() AS profiles,
    countIf(conversions > 0) AS converters,
    sum(amount) AS revenue,
    sum(amount * amount) AS revenue_sq
FROM outcomes
GROUP BY variant_id
ORDER BY variant_id
