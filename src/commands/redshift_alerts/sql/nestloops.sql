-- Queries with nested-loop joins (Redshift's diagnostic "identifying queries with nested
-- loops"): per cluster the N most recent, with how often the alert was logged and the text.
-- Over the nested-loop rows: cluster, query, seen_at, statement.
SELECT cluster, query, alerts, last_seen, statement
FROM (
  SELECT cluster, query, alerts, last_seen, statement,
         ROW_NUMBER() OVER (PARTITION BY cluster ORDER BY last_seen DESC, query) AS place
  FROM (
    SELECT cluster, query, COUNT(*) AS alerts,
           substr(CAST(MAX(seen_at) AS VARCHAR), 1, 16) AS last_seen,
           coalesce(MAX(statement), '') AS statement
    FROM (
{{rows}}
    ) AS loop_rows
    GROUP BY cluster, query
  ) AS grouped
) AS ranked
WHERE place <= {{top}}
ORDER BY cluster, place
