-- Orders, revenue and average order value per channel, campaign, device or the buyer's segment.
--
-- Definition: an order is a purchase event (touchpoints FINAL: a replayed
-- event counts once) with event_time in [start, end); its revenue as stored
-- (currencies are not converted: filter by currency if you sell in several).
-- The dimension of an order:
--   channel   the purchase's own channel (where the conversion happened);
--   campaign  the campaign of the person's last touch that carried one, at or
--             before the purchase and inside its journey (from the journey's
--             start_time; 30 days back when the purchase has no journey yet),
--             outbound sends excluded; '(not set)' when none. Not the journey's
--             last_campaign_id: the touch right before a purchase is nearly
--             always a cart or checkout page, which carries no campaign.
--   device    the purchase's own device_type;
--   segment   the buyer's real-time segments now (segment_members_current):
--             an order counts in the row of each segment its buyer is in,
--             '(none)' when in none.
-- Columns:
--   dim              per {by}, as above
--   orders           purchase events
--   revenue          their summed revenue
--   avg_order_value  revenue / orders, rounded to cents (half away from zero)
-- Parameters: start (inclusive), end (exclusive), by (channel | campaign | device | segment).
WITH
    purchases AS (
        SELECT
            event_id,
            current_profile_id AS profile,
            event_time,
            toString(channel) AS channel,
            toString(device_type) AS device_type,
            ifNull(revenue, toDecimal64(0, 2)) AS amount
        FROM {db}.touchpoints_resolved
        WHERE event_type = 'purchase'
          AND event_time >= {start:DateTime64(3, 'UTC')} AND event_time < {end:DateTime64(3, 'UTC')}
    ),
    journey_starts AS (
        SELECT assumeNotNull(conversion_event_id) AS event_id, start_time
        FROM {db}.journeys FINAL
        WHERE converted = 1 AND conversion_event_id IS NOT NULL
          AND end_time >= {start:DateTime64(3, 'UTC')} AND end_time < {end:DateTime64(3, 'UTC')}
    ),
    campaign_touches AS (
        SELECT current_profile_id AS profile, event_time, event_id, assumeNotNull(campaign_id) AS campaign
        FROM {db}.touchpoints_resolved
        WHERE campaign_id IS NOT NULL AND current_profile_id IS NOT NULL
          AND event_type NOT IN ('email_send', 'sms_send', 'push_send')
          AND event_time >= {start:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
          AND event_time < {end:DateTime64(3, 'UTC')}
    ),
    orders AS (
        SELECT
            p.event_id AS event_id,
            any(p.profile) AS profile,
            any(p.channel) AS channel,
            any(p.device_type) AS device_type,
            any(p.amount) AS amount,
            argMaxIf(c.campaign, (c.event_time, c.event_id),
                     c.event_time <= p.event_time
                     AND c.event_time >= if(s.event_id = '', p.event_time - INTERVAL 30 DAY, s.start_time)) AS campaign
        FROM purchases AS p
        LEFT JOIN journey_starts AS s ON s.event_id = p.event_id
        LEFT JOIN campaign_touches AS c ON c.profile = p.profile
        GROUP BY p.event_id
    )
SELECT
    arrayJoin(if({by:String} = 'segment', if(empty(s.segments), ['(none)'], s.segments),
                 [multiIf({by:String} = 'channel', o.channel,
                          {by:String} = 'campaign', if(o.campaign = '', '(not set)', o.campaign),
                          {by:String} = 'device', o.device_type, '')])) AS dim,
    count() AS orders,
    sum(o.amount) AS revenue,
    toDecimal128(round(toDecimal128(revenue, 6) / orders, 2), 2) AS avg_order_value
FROM orders AS o
-- Only read for --by segment (empty otherwise).
LEFT JOIN (
    SELECT profile_id, groupArray(segment) AS segments
    FROM {db}.segment_members_current
    WHERE {by:String} = 'segment'
    GROUP BY profile_id
) AS s ON s.profile_id = o.profile
GROUP BY dim
ORDER BY revenue DESC, dim
