-- The conversion funnel: people reaching each step, in order, within 30 days.
--
-- Definition: people (current profile, touchpoints_resolved) with events in
-- [start, end). A person reaches step k when their events contain steps 1..k
-- in this order (other events may come between) within 30 days of the step-1
-- event (ClickHouse windowFunnel, the journey lookback); one event may serve
-- two steps (a page view is a visit and a page view). Steps:
--   1 visit        the person came to the site, the app or a store: page_view, product_view, app_open,
--                  store_visit, add_to_cart, checkout, purchase, or any '*_click' (a click lands there).
--                  Outbound sends, impressions and opens are not visits.
--   2 page_view    page_view (a web page or app screen) or product_view
--   3 add_to_cart
--   4 checkout
--   5 purchase
-- A purchase that skipped steps (a store sale has no cart) counts only up to
-- the last step reached in order.
-- Columns (all 5 steps):
--   step            1..5
--   name            the step's name, as above
--   profiles        people who reached the step
--   share_of_first  profiles / profiles at step 1, 4 decimals (NULL when nobody visited)
-- Parameters: start (inclusive), end (exclusive).
WITH
    levels AS (
        SELECT
            current_profile_id AS profile,
            windowFunnel(2592000000)(
                toUInt64(toUnixTimestamp64Milli(event_time)),
                event_type IN ('page_view', 'product_view', 'app_open', 'store_visit', 'add_to_cart', 'checkout',
                               'purchase') OR endsWith(event_type, '_click'),
                event_type IN ('page_view', 'product_view'),
                event_type = 'add_to_cart',
                event_type = 'checkout',
                event_type = 'purchase') AS level
        FROM {db}.touchpoints_resolved
        WHERE event_time >= {start:DateTime64(3, 'UTC')} AND event_time < {end:DateTime64(3, 'UTC')}
          AND current_profile_id IS NOT NULL
        GROUP BY profile
    ),
    steps AS (
        SELECT
            arrayJoin(arrayZip(range(1, 6), ['visit', 'page_view', 'add_to_cart', 'checkout', 'purchase'])) AS s,
            toUInt64(s.1) AS step,
            s.2 AS name
    ),
    reached AS (
        SELECT s.step AS step, countIf(l.level >= s.step) AS profiles
        FROM steps AS s
        CROSS JOIN levels AS l
        GROUP BY s.step
    )
SELECT
    s.step AS step,
    s.name AS name,
    r.profiles AS profiles,
    if(max(r.profiles) OVER () = 0, NULL, round(r.profiles / max(r.profiles) OVER (), 4)) AS share_of_first
FROM steps AS s
LEFT JOIN reached AS r ON r.step = s.step
ORDER BY s.step
