-- Channel summary: touches, distinct people-identifiers, purchases, revenue and
-- average order value per channel, over deduplicated touchpoints.
-- "identifiers" counts the event's most device-specific identifier, until
-- profile stitching (identity stage) provides people.
SELECT
    channel,
    count() AS touches,
    uniqExact(coalesce(anonymous_id, device_id, user_id, loyalty_id, email_sha256, phone_sha256)) AS identifiers,
    countIf(event_type = 'purchase') AS purchases,
    sumIf(revenue, event_type = 'purchase') AS revenue,
    if(purchases = 0, NULL, round(revenue / purchases, 2)) AS avg_order_value
FROM {db}.touchpoints FINAL
GROUP BY channel
ORDER BY touches DESC
