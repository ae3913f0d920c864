-- Historical customer lifetime value: revenue to date per customer, by how the customer first arrived (or segment).
--
-- Definition: a customer is a person (current profile, touchpoints_resolved)
-- whose first purchase ever is in [start, end) (so the default range means
-- every customer). Their orders and revenue are all their purchases before
-- end (revenue to date, not a forecast; currencies not converted). The
-- dimension is the customer's first touch ever (earliest event_time, then
-- event_id; outbound sends left out): its channel, its campaign
-- ('(not set)' without one) or its device_type; or the customer's real-time
-- segments now (segment_members_current): one row per segment, a customer in
-- several counting in each, '(none)' when in none.
-- Columns:
--   dim                   first-touch channel | campaign | device, or segment, per {by}
--   customers             customers acquired in the range
--   orders                their purchases before end
--   revenue               those purchases' revenue
--   revenue_per_customer  revenue / customers, rounded to cents (half away from zero): historical CLV
-- Parameters: start (inclusive), end (exclusive), by (channel | campaign | device | segment).
WITH
    customers AS (
        SELECT current_profile_id AS profile, min(event_time) AS first_purchase, count() AS orders,
               sum(ifNull(revenue, toDecimal64(0, 2))) AS amount
        FROM {db}.touchpoints_resolved
        WHERE event_type = 'purchase' AND current_profile_id IS NOT NULL
          AND event_time < {end:DateTime64(3, 'UTC')}
        GROUP BY profile
        HAVING first_purchase >= {start:DateTime64(3, 'UTC')}
    ),
    first_touch AS (
        SELECT current_profile_id AS profile,
               argMin(toString(channel), (event_time, event_id)) AS first_channel,
               argMin(ifNull(campaign_id, '(not set)'), (event_time, event_id)) AS first_campaign,
               argMin(toString(device_type), (event_time, event_id)) AS first_device
        FROM {db}.touchpoints_resolved
        WHERE event_type NOT IN ('email_send', 'sms_send', 'push_send')
          AND current_profile_id IN (SELECT profile FROM customers)
          AND event_time < {end:DateTime64(3, 'UTC')}
        GROUP BY profile
    )
SELECT
    arrayJoin(if({by:String} = 'segment', if(empty(s.segments), ['(none)'], s.segments),
                 [multiIf({by:String} = 'channel', f.first_channel,
                          {by:String} = 'campaign', f.first_campaign,
                          {by:String} = 'device', f.first_device, '')])) AS dim,
    count() AS customers,
    sum(c.orders) AS orders,
    sum(c.amount) AS revenue,
    toDecimal128(round(toDecimal128(revenue, 6) / customers, 2), 2) AS revenue_per_customer
FROM customers AS c
LEFT JOIN first_touch AS f ON f.profile = c.profile
-- Only read for --by segment (empty otherwise).
LEFT JOIN (
    SELECT profile_id, groupArray(segment) AS segments
    FROM {db}.segment_members_current
    WHERE {by:String} = 'segment'
    GROUP BY profile_id
) AS s ON s.profile_id = c.profile
GROUP BY dim
ORDER BY revenue DESC, dim
