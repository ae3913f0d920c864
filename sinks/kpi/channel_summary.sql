-- Touches, identifiers, purchases, revenue and average order value per channel.
--
-- Definition: every stored touchpoint (FINAL: a replayed event counts once)
-- with event_time in [start, end), grouped by its channel.
-- Columns:
--   channel          the touchpoint's channel
--   touches          events (every event type, outbound sends included)
--   identifiers      distinct identity keys: each event's anchor identifier as the identity stage chose it
--                    (user_id, else loyalty_id, email, phone, device_id, anonymous_id), junk and
--                    blocklisted values skipped by identity's own rule (streams/identity/policy.py,
--                    TOUCHLINE_IDENTITY_BLOCKLIST), so 'undefined', 'null' or '0' are never an identifier;
--                    an event whose identifiers are all junk adds none. People before stitching.
--   purchases        purchase events
--   revenue          sum of the purchases' revenue (as stored, currencies not converted)
--   avg_order_value  revenue / purchases, rounded to cents (half away from zero; NULL without purchases)
-- Parameters: start (inclusive), end (exclusive).
SELECT
    channel,
    count() AS touches,
    uniqExact(identity_key) AS identifiers,
    countIf(event_type = 'purchase') AS purchases,
    sumIf(revenue, event_type = 'purchase') AS revenue,
    if(purchases = 0, NULL, toDecimal128(round(toDecimal128(revenue, 6) / purchases, 2), 2)) AS avg_order_value
FROM {db}.touchpoints FINAL
WHERE event_time >= {start:DateTime64(3, 'UTC')} AND event_time < {end:DateTime64(3, 'UTC')}
GROUP BY channel
ORDER BY touches DESC, channel
