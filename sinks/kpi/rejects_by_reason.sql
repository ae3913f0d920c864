-- Dead letters per reason and stage, with the newest example's detail.
--
-- Definition: rejected messages (FINAL: one row per source position and stage)
-- with rejected_at in [start, end).
-- Columns:
--   reason          machine-readable reason (schemas/reasons.py)
--   stage           the stage that rejected the message (ingest, ...)
--   rejects         rejected messages
--   latest_detail   the detail of the newest reject of this reason and stage
-- Parameters: start (inclusive), end (exclusive), on rejected_at.
SELECT
    reason,
    stage,
    count() AS rejects,
    argMax(detail, rejected_at) AS latest_detail
FROM {db}.rejects FINAL
WHERE rejected_at >= {start:DateTime64(3, 'UTC')} AND rejected_at < {end:DateTime64(3, 'UTC')}
GROUP BY reason, stage
ORDER BY rejects DESC, reason, stage
