-- How many touchpoints (visits) buyers needed: distribution and share with 2 or more.
--
-- Definition: one row per bucket of touchpoints per purchase. A purchase is a
-- converted journey whose goal is a purchase (journeys FINAL, conversion_type
-- 'purchase') ending in [start, end). Its touchpoints are visits, the unit
-- docs/attribution.md credits: the journey's touches (the buyer's current
-- profile, touchpoints_resolved, from the journey's start_time to the
-- purchase, both included), outbound sends left out first (an unopened email
-- is not a touch), cut into sessions by the session rule's key (device_id,
-- else anonymous_id, else the identity key and channel; shared kiosks and
-- POS terminals by the person) and a 30-minute inactivity timeout. An ad
-- click and the pages after it are one touchpoint; the purchase's own visit
-- counts, so every purchase has at least 1. Computed from the touches, not
-- the sessions table, so recent purchases count before their sessions close;
-- per-channel timeouts and the 24 h cap of the stream's rule are not applied.
-- A person who bought twice in the range counts once per purchase.
-- Columns (all 10 buckets, also when empty):
--   touches          '1' .. '9', '10+' (a String; rows in numeric order)
--   buyers           purchases whose journey had that many touchpoints
--   share            buyers / all purchases, 4 decimals (NULL without purchases)
--   share_2_or_more  share of purchases with >= 2 touchpoints (the same on every row)
-- Parameters: start (inclusive), end (exclusive).
WITH
    purchase_journeys AS (
        SELECT journey_id, profile_id, start_time, end_time
        FROM {db}.journeys FINAL
        WHERE converted = 1 AND conversion_type = 'purchase'
          AND end_time >= {start:DateTime64(3, 'UTC')} AND end_time < {end:DateTime64(3, 'UTC')}
    ),
    runs AS (
        -- per journey and session key: its touches as (time in ms, event id), sorted
        SELECT j.journey_id AS journey_id,
               arraySort(groupArray((toUnixTimestamp64Milli(t.event_time), t.event_id))) AS run
        FROM (
            SELECT current_profile_id, event_time, event_id,
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
        INNER JOIN purchase_journeys AS j ON j.profile_id = t.current_profile_id
        WHERE t.event_time >= j.start_time AND t.event_time <= j.end_time
        GROUP BY j.journey_id, t.session_key
    ),
    visits AS (
        -- a visit starts at a run's first touch and at each touch 30 minutes or more after the previous one
        SELECT journey_id, sum(1 + arrayCount(gap -> gap >= 1800000, arrayDifference(arrayMap(x -> x.1, run)))) AS n
        FROM runs
        GROUP BY journey_id
    ),
    per_purchase AS (
        SELECT toUInt64(least(greatest(v.n, 1), 10)) AS bucket
        FROM purchase_journeys AS j
        LEFT JOIN visits AS v ON v.journey_id = j.journey_id
    ),
    counted AS (
        SELECT bucket, count() AS buyers FROM per_purchase GROUP BY bucket
    )
SELECT
    if(b.bucket = 10, '10+', toString(b.bucket)) AS touches,
    c.buyers AS buyers,
    if(sum(c.buyers) OVER () = 0, NULL, round(c.buyers / sum(c.buyers) OVER (), 4)) AS share,
    if(sum(c.buyers) OVER () = 0, NULL,
       round(sum(if(b.bucket >= 2, c.buyers, 0)) OVER () / sum(c.buyers) OVER (), 4)) AS share_2_or_more
FROM (SELECT toUInt64(arrayJoin(range(1, 11))) AS bucket) AS b
LEFT JOIN counted AS c ON c.bucket = b.bucket
ORDER BY b.bucket
