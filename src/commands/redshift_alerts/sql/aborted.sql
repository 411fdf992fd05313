-- Aborted and cancelled queries per cluster and user: how many, the last one and when.
-- Over the aborted rows: cluster, user_id, query, started_at.
SELECT cluster, user_id, aborted, last_query, last_at
FROM (
  SELECT cluster, user_id, COUNT(*) AS aborted, MAX(query) AS last_query,
         substr(CAST(MAX(started_at) AS VARCHAR), 1, 16) AS last_at
  FROM (
{{rows}}
  ) AS aborted_rows
  GROUP BY cluster, user_id
) AS grouped
ORDER BY cluster, aborted DESC, user_id
