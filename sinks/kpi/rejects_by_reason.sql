-- Dead letters per reason and stage, with the newest example's detail.
SELECT
    reason,
    stage,
    count() AS rejects,
    argMax(detail, rejected_at) AS latest_detail
FROM {db}.rejects FINAL
GROUP BY reason, stage
ORDER BY rejects DESC
