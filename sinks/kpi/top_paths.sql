-- The 20 channel paths with the most conversions, with journeys, rate and revenue.
--
-- Definition: journeys (journeys FINAL, converted or still open) whose
-- end_time (the conversion, or an open journey's newest touch) is in
-- [start, end). A journey's path is its visits' landing channels in time
-- order, consecutive repeats collapsed (email, web, web -> email > web): the
-- touches of the journey (the person's current profile, touchpoints_resolved,
-- from start_time to end_time), outbound sends left out, cut into visits as in
-- touches_to_convert.sql (session key, 30-minute timeout), one channel per
-- visit, its first touch's (docs/attribution.md: an ad click and the pages
-- after it are one 'display' touch). Journeys without a touch of their own
-- (only sends) have no path and are left out. Ties: more journeys first, then
-- the path's text.
-- Columns:
--   path             channels joined with ' > '
--   journeys         journeys with this path
--   conversions      of those, converted (any goal)
--   conversion_rate  conversions / journeys, 4 decimals
--   revenue          the converted journeys' value (the goal's revenue)
-- Parameters: start (inclusive), end (exclusive).
WITH
    journeys_in_range AS (
        SELECT journey_id, profile_id, start_time, end_time, converted, value
        FROM {db}.journeys FINAL
        WHERE end_time >= {start:DateTime64(3, 'UTC')} AND end_time < {end:DateTime64(3, 'UTC')}
    ),
    runs AS (
        -- per journey and session key: its touches as (time in ms, event id, channel), sorted
        SELECT j.journey_id AS journey_id,
               arraySort(groupArray((toUnixTimestamp64Milli(t.event_time), t.event_id, t.touch_channel))) AS run
        FROM (
            SELECT current_profile_id, event_time, event_id, toString(channel) AS touch_channel,
                   multiIf(device_type IN ('kiosk', 'pos_terminal') OR (device_id IS NULL AND anonymous_id IS NULL),
                           concat(ifNull(identity_key, concat('event:', event_id)), '|', toString(channel)),
                           device_id IS NOT NULL, concat('device_id:', assumeNotNull(device_id)),
                           concat('anonymous_id:', assumeNotNull(anonymous_id))) AS session_key
            FROM {db}.touchpoints_resolved
            WHERE event_type NOT IN ('email_send', 'sms_send', 'push_send')
              AND current_profile_id IS NOT NULL
              AND event_time >= {start:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
              AND event_time < {end:DateTime64(3, 'UTC')}
        ) AS t
        INNER JOIN journeys_in_range AS j ON j.profile_id = t.current_profile_id
        WHERE t.event_time >= j.start_time AND t.event_time <= j.end_time
        GROUP BY j.journey_id, t.session_key
    ),
    landings AS (
        -- a visit starts at a run's first touch and at each touch 30 minutes or more after the previous one
        SELECT journey_id, arrayMap(x -> x.3, arraySort(groupArray(landing))) AS channels
        FROM runs
        ARRAY JOIN arrayFilter((x, i) -> i = 1 OR x.1 - run[i - 1].1 >= 1800000, run, arrayEnumerate(run)) AS landing
        GROUP BY journey_id
    ),
    paths AS (
        SELECT journey_id,
               arrayStringConcat(arrayFilter((c, i) -> i = 1 OR c != channels[i - 1], channels,
                                             arrayEnumerate(channels)), ' > ') AS path
        FROM landings
    )
SELECT
    p.path AS path,
    count() AS journeys,
    countIf(j.converted = 1) AS conversions,
    round(conversions / journeys, 4) AS conversion_rate,
    sumIf(j.value, j.converted = 1) AS revenue
FROM journeys_in_range AS j
INNER JOIN paths AS p ON p.journey_id = j.journey_id
GROUP BY path
ORDER BY conversions DESC, journeys DESC, path
LIMIT 20
