-- Touches, identifiers, purchases, revenue and average order value per channel.
--
-- Definition: every stored touchpoint (FINAL: a replayed event counts once)
-- with event_time in [start, end), grouped by its channel.
-- Columns:
--   channel          the touchpoint's channel
--   touches          events (every event type, outbound sends included)
--   identifiers      distinct most-device-specific identifiers (anonymous_id, else device_id, user_id,
--                    loyalty_id, email_sha256, phone_sha256): devices and people before stitching
--   purchases        purchase events
--   revenue          sum of the purchases' revenue (as stored, currencies not converted)
--   avg_order_value  revenue / purchases, rounded to cents (half away from zero; NULL without purchases)
-- Parameters: start (inclusive), end (exclusive).
SELECT
    channel,
    count() AS touches,
    uniqExact(coalesce(anonymous_id, device_id, user_id, loyalty_id, email_sha256, phone_sha256)) AS identifiers,
    countIf(event_type = 'purchase') AS purchases,
    sumIf(revenue, event_type = 'purchase') AS revenue,
    if(purchases = 0, NULL, toDecimal128(round(toDecimal128(revenue, 6) / purchases, 2), 2)) AS avg_order_value
FROM {db}.touchpoints FINAL
WHERE event_time >= {start:DateTime64(3, 'UTC')} AND event_time < {end:DateTime64(3, 'UTC')}
GROUP BY channel
ORDER BY touches DESC, channel
