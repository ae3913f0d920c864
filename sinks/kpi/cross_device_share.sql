-- Share of conversions whose journey spans two or more devices, per day.
--
-- Definition: converted journeys (journeys FINAL, any goal) whose end_time
-- (the conversion) is in [start, end), per UTC day of the conversion. A
-- journey is cross-device when its touches were made on 2 or more devices
-- (device_id or anonymous_id, the two being one device when an event carried
-- both; touches without one, such as an email send or a store visit, add
-- none; docs/design/journeys.md): journeys.cross_device. Days
-- without conversions have no row.
-- Columns:
--   day                       the conversion's UTC date
--   conversions               converted journeys that day
--   cross_device_conversions  of those, cross-device ones
--   share                     cross_device_conversions / conversions, 4 decimals
-- Parameters: start (inclusive), end (exclusive).
SELECT
    toDate(end_time) AS day,
    count() AS conversions,
    countIf(cross_device = 1) AS cross_device_conversions,
    round(cross_device_conversions / conversions, 4) AS share
FROM {db}.journeys FINAL
WHERE converted = 1
  AND end_time >= {start:DateTime64(3, 'UTC')} AND end_time < {end:DateTime64(3, 'UTC')}
GROUP BY day
ORDER BY day
