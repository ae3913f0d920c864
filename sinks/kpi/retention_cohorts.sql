-- Repeat purchase by first-purchase month, single-channel vs omnichannel customers.
--
-- Definition: a customer is a person (current profile, touchpoints_resolved)
-- whose first purchase ever (the earliest purchase event stored, before end)
-- is in [start, end); cohort_month is that purchase's UTC month. The customer
-- is omnichannel when their touches up to and including the first purchase
-- (all history before it, outbound sends left out, the purchase itself
-- included) span 2 or more distinct channels, else single_channel: an email
-- click then a web purchase is omnichannel, web visits then a web purchase is
-- single_channel. A repeat customer made a second purchase at any time after
-- the first and before end, so recent cohorts have had less time to repeat.
-- Columns:
--   cohort_month      first day of the first purchase's month (Date)
--   customer_type     'single_channel' | 'omnichannel'
--   customers         customers of that cohort and type
--   repeat_customers  of those, customers with 2 or more purchases before end
--   repeat_rate       repeat_customers / customers, 4 decimals
-- Parameters: start (inclusive), end (exclusive).
WITH
    customers AS (
        SELECT current_profile_id AS profile, min(event_time) AS first_purchase, count() AS orders
        FROM {db}.touchpoints_resolved
        WHERE event_type = 'purchase' AND current_profile_id IS NOT NULL
          AND event_time < {end:DateTime64(3, 'UTC')}
        GROUP BY profile
        HAVING first_purchase >= {start:DateTime64(3, 'UTC')}
    ),
    reach AS (
        SELECT c.profile AS profile, uniqExact(t.channel) AS channels
        FROM (
            SELECT current_profile_id, event_time, channel
            FROM {db}.touchpoints_resolved
            WHERE event_type NOT IN ('email_send', 'sms_send', 'push_send')
              AND current_profile_id IS NOT NULL
              AND event_time < {end:DateTime64(3, 'UTC')}
        ) AS t
        INNER JOIN customers AS c ON c.profile = t.current_profile_id
        WHERE t.event_time <= c.first_purchase
        GROUP BY c.profile
    )
SELECT
    toStartOfMonth(c.first_purchase) AS cohort_month,
    if(r.channels >= 2, 'omnichannel', 'single_channel') AS customer_type,
    count() AS customers,
    countIf(c.orders >= 2) AS repeat_customers,
    round(repeat_customers / customers, 4) AS repeat_rate
FROM customers AS c
LEFT JOIN reach AS r ON r.profile = c.profile
GROUP BY cohort_month, customer_type
ORDER BY cohort_month, customer_type DESC
