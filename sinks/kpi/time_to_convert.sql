-- How long conversions took, from the journey's first touch to the conversion.
--
-- Definition: converted journeys (journeys FINAL, any goal: purchase or
-- subscription) whose end_time (the conversion) is in [start, end), by
-- time_to_convert_ms: conversion time minus the journey's first touch inside
-- its lookback (30 days by default, so '30+ d' holds only journeys of
-- exactly 30 days unless the lookback is longer). Every event of the journey
-- can be its start, outbound sends included. Buckets are [lower, upper): exactly 1 h is '1-24 h'.
-- Columns (all 7 buckets, also when empty):
--   bucket       '< 1 h', '1-24 h', '1-3 d', '3-7 d', '7-14 d', '14-30 d', '30+ d' (rows in that order)
--   conversions  converted journeys in the bucket
--   share        conversions / all conversions, 4 decimals (NULL without conversions)
-- Parameters: start (inclusive), end (exclusive).
WITH
    buckets AS (
        SELECT
            arrayJoin(arrayZip(range(1, 8), ['< 1 h', '1-24 h', '1-3 d', '3-7 d', '7-14 d', '14-30 d', '30+ d'])) AS b,
            toUInt64(b.1) AS position,
            b.2 AS bucket
    ),
    counted AS (
        SELECT
            toUInt64(multiIf(ms < 3600000, 1, ms < 86400000, 2, ms < 259200000, 3, ms < 604800000, 4,
                             ms < 1209600000, 5, ms < 2592000000, 6, 7)) AS position,
            count() AS conversions
        FROM (
            SELECT ifNull(time_to_convert_ms, dateDiff('millisecond', start_time, end_time)) AS ms
            FROM {db}.journeys FINAL
            WHERE converted = 1
              AND end_time >= {start:DateTime64(3, 'UTC')} AND end_time < {end:DateTime64(3, 'UTC')}
        )
        GROUP BY position
    )
SELECT
    b.bucket AS bucket,
    c.conversions AS conversions,
    if(sum(c.conversions) OVER () = 0, NULL, round(c.conversions / sum(c.conversions) OVER (), 4)) AS share
FROM buckets AS b
LEFT JOIN counted AS c ON c.position = b.position
ORDER BY b.position
