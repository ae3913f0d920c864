-- Share of the people touched in a channel, campaign or device (or in a segment now) who converted.
--
-- Definition: profiles = distinct people (current profile, through
-- touchpoints_resolved, so merged identifiers count once) with at least one
-- touch in [start, end) in the dimension value. A touch is any event except
-- an outbound send (email_send, sms_send, push_send): an unopened email is
-- not something the person did (as in docs/attribution.md). converters = of
-- those, the people with a converted journey (any goal: purchase or
-- subscription, journeys FINAL) whose end_time (the conversion) is in
-- [start, end), whatever channel it came through. A person touched in two
-- channels counts in both rows. By segment: the person's real-time segments
-- now (segment_members_current), one row per segment, a person in several
-- counting in each; '(none)' for people in no segment.
-- Columns:
--   dim              channel | campaign_id ('(not set)' without one) | device_type | segment, per {by}
--   profiles         distinct people touched in dim
--   converters       of those, people who converted in the range
--   conversion_rate  converters / profiles, 4 decimals
-- Parameters: start (inclusive), end (exclusive), by (channel | campaign | device | segment).
SELECT
    arrayJoin(if({by:String} = 'segment', if(empty(s.segments), ['(none)'], s.segments), [t.dim0])) AS dim,
    count() AS profiles,
    countIf(t.profile IN (
        SELECT profile_id
        FROM {db}.journeys FINAL
        WHERE converted = 1
          AND end_time >= {start:DateTime64(3, 'UTC')} AND end_time < {end:DateTime64(3, 'UTC')}
    )) AS converters,
    round(converters / profiles, 4) AS conversion_rate
-- People per dimension value first (distinct pairs), so the segments join sees each person once per value.
FROM (
    SELECT
        multiIf({by:String} = 'channel', toString(channel),
                {by:String} = 'campaign', ifNull(campaign_id, '(not set)'),
                {by:String} = 'device', toString(device_type), '') AS dim0,
        assumeNotNull(current_profile_id) AS profile
    FROM {db}.touchpoints_resolved
    WHERE event_time >= {start:DateTime64(3, 'UTC')} AND event_time < {end:DateTime64(3, 'UTC')}
      AND event_type NOT IN ('email_send', 'sms_send', 'push_send')
      AND current_profile_id IS NOT NULL
    GROUP BY dim0, profile
) AS t
-- Only read for --by segment (empty otherwise).
LEFT JOIN (
    SELECT profile_id, groupArray(segment) AS segments
    FROM {db}.segment_members_current
    WHERE {by:String} = 'segment'
    GROUP BY profile_id
) AS s ON s.profile_id = t.profile
GROUP BY dim
ORDER BY profiles DESC, dim
