-- Outbound contacts per person per week, and the unsubscribe rate in each frequency band.
--
-- Definition: a profile-week is a person (current profile,
-- touchpoints_resolved) and an ISO week (Monday to Sunday, UTC) with at
-- least one outbound contact in [start, end): an email_send, sms_send or
-- push_send, or a call event with properties['direction'] = 'outbound'
-- (inbound calls are the person's own touch). Its band is the number of those
-- contacts that week. An unsubscribe is a profile-week with at least one
-- unsubscribe event (any channel) in that week, before or after the contacts.
-- Weeks cut by start or end count only their days inside the range.
-- Columns (all 5 bands, also when empty):
--   frequency_band    '1', '2-3', '4-5', '6-9', '10+' contacts in the week (rows in that order)
--   profile_weeks     profile-weeks in the band
--   unsubscribes      of those, profile-weeks with an unsubscribe
--   unsubscribe_rate  unsubscribes / profile_weeks, 4 decimals (NULL when the band is empty)
-- Parameters: start (inclusive), end (exclusive).
WITH
    bands AS (
        SELECT
            arrayJoin(arrayZip(range(1, 6), ['1', '2-3', '4-5', '6-9', '10+'])) AS b,
            toUInt64(b.1) AS position,
            b.2 AS frequency_band
    ),
    weekly AS (
        SELECT
            current_profile_id AS profile,
            toMonday(event_time) AS week,
            countIf(event_type IN ('email_send', 'sms_send', 'push_send')
                    OR (event_type = 'call' AND properties['direction'] = 'outbound')) AS contacts,
            countIf(event_type = 'unsubscribe') > 0 AS unsubscribed
        FROM {db}.touchpoints_resolved
        WHERE event_time >= {start:DateTime64(3, 'UTC')} AND event_time < {end:DateTime64(3, 'UTC')}
          AND current_profile_id IS NOT NULL
          AND event_type IN ('email_send', 'sms_send', 'push_send', 'call', 'unsubscribe')
        GROUP BY profile, week
        HAVING contacts > 0
    ),
    counted AS (
        SELECT
            toUInt64(multiIf(contacts = 1, 1, contacts <= 3, 2, contacts <= 5, 3, contacts <= 9, 4, 5)) AS position,
            count() AS profile_weeks,
            countIf(unsubscribed) AS unsubscribes
        FROM weekly
        GROUP BY position
    )
SELECT
    b.frequency_band AS frequency_band,
    c.profile_weeks AS profile_weeks,
    c.unsubscribes AS unsubscribes,
    if(c.profile_weeks = 0, NULL, round(c.unsubscribes / c.profile_weeks, 4)) AS unsubscribe_rate
FROM bands AS b
LEFT JOIN counted AS c ON c.position = b.position
ORDER BY b.position
