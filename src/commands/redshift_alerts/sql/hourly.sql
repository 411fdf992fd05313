-- Queries started per hour and cluster.
-- Over the query rows of the clusters: cluster, started_at.
SELECT cluster, CAST(hour_start AS VARCHAR) AS hour_start, COUNT(*) AS queries
FROM (
  SELECT cluster, date_trunc('hour', started_at) AS hour_start
  FROM (
{{rows}}
  ) AS query_rows
) AS started
GROUP BY cluster, hour_start
