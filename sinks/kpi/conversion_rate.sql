-- Share of the people touched in a channel, campaign or device who converted.
--
-- Definition: profiles = distinct people (current profile, through
-- touchpoints_resolved, so merged identifiers count once) with at least one
-- touch in [start, end) in the dimension value. A touch is any event except
-- an outbound send (email_send, sms_send, push_send): an unopened email is
-- not something the person did (as in docs/attribution.md). converters = of
-- those, the people with a converted journey (any goal: purchase or
-- subscription, journeys FINAL) whose end_time (the conversion) is in
-- [start, end), whatever channel it came through. A person touched in two
-- channels counts in both rows.
-- Columns:
--   dim              channel | campaign_id ('(not set)' without one) | device_type, per {by}
--   profiles         distinct people touched in dim
--   converters       of those, people who converted in the range
--   conversion_rate  converters / profiles, 4 decimals
-- Parameters: start (inclusive), end (exclusive), by (channel | campaign | device).
SELECT
    multiIf({by:String} = 'channel', toString(channel),
            {by:String} = 'campaign', ifNull(campaign_id, '(not set)'),
            {by:String} = 'device', toString(device_type), '') AS dim,
    uniqExact(current_profile_id) AS profiles,
    uniqExactIf(current_profile_id, current_profile_id IN (
        SELECT profile_id
        FROM {db}.journeys FINAL
        WHERE converted = 1
          AND end_time >= {start:DateTime64(3, 'UTC')} AND end_time < {end:DateTime64(3, 'UTC')}
    )) AS converters,
    round(converters / profiles, 4) AS conversion_rate
FROM {db}.touchpoints_resolved
WHERE event_time >= {start:DateTime64(3, 'UTC')} AND event_time < {end:DateTime64(3, 'UTC')}
  AND event_type NOT IN ('email_send', 'sms_send', 'push_send')
  AND current_profile_id IS NOT NULL
GROUP BY dim
ORDER BY profiles DESC, dim
