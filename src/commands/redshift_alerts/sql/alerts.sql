-- Top alert events per cluster: how often, in how many queries, last seen; the top N of each.
-- Over the alert rows of the clusters: cluster, event, solution, query, seen_at.
SELECT cluster, event, solution, occurrences, queries, last_seen
FROM (
  SELECT cluster, event, solution, occurrences, queries, last_seen,
         ROW_NUMBER() OVER (PARTITION BY cluster ORDER BY occurrences DESC, event) AS place
  FROM (
    SELECT cluster, event, solution,
           COUNT(*) AS occurrences,
           COUNT(DISTINCT query) AS queries,
           CAST(MAX(seen_at) AS VARCHAR) AS last_seen
    FROM (
{{rows}}
    ) AS alert_rows
    GROUP BY cluster, event, solution
  ) AS events
) AS ranked
WHERE place <= {{top}}
