-- How many people were touched in both of two channels, for every pair of channels.
--
-- Definition: people (current profile, touchpoints_resolved) with touches in
-- [start, end), outbound sends left out (as in conversion_rate). For each pair
-- of channels a < b (alphabetical) both touched by the same person: the
-- number of such people, and their share of the people touched in channel_a.
-- Only pairs with at least one person; the share of channel_b is
-- profiles / (profiles touched in b): swap the pair's order to read it.
-- Columns:
--   channel_a   the alphabetically first channel of the pair
--   channel_b   the other one
--   profiles    distinct people touched in both
--   share_of_a  profiles / people touched in channel_a, 4 decimals
-- Parameters: start (inclusive), end (exclusive).
WITH
    touched AS (
        SELECT DISTINCT current_profile_id AS profile, toString(channel) AS touch_channel
        FROM {db}.touchpoints_resolved
        WHERE event_time >= {start:DateTime64(3, 'UTC')} AND event_time < {end:DateTime64(3, 'UTC')}
          AND event_type NOT IN ('email_send', 'sms_send', 'push_send')
          AND current_profile_id IS NOT NULL
    ),
    per_channel AS (
        SELECT touch_channel, count() AS people FROM touched GROUP BY touch_channel
    ),
    pairs AS (
        SELECT a.touch_channel AS channel_a, b.touch_channel AS channel_b, count() AS profiles
        FROM touched AS a
        INNER JOIN touched AS b ON b.profile = a.profile
        WHERE a.touch_channel < b.touch_channel
        GROUP BY channel_a, channel_b
    )
SELECT p.channel_a AS channel_a, p.channel_b AS channel_b, p.profiles AS profiles,
       round(p.profiles / c.people, 4) AS share_of_a
FROM pairs AS p
INNER JOIN per_channel AS c ON c.touch_channel = p.channel_a
ORDER BY profiles DESC, channel_a, channel_b
