-- Top time-consuming statements per cluster (Redshift's diagnostic "queries that are top
-- candidates for tuning"): runs of the same text, total and longest run time in seconds, runs
-- that raised an alert, the last run; the top N of each cluster.
-- Over the statement rows: cluster, statement, query, run_s, started_at, alerted.
SELECT cluster, runs, total_s, max_s, with_alerts, last_run, statement
FROM (
  SELECT cluster, statement, runs, total_s, max_s, with_alerts, last_run,
         ROW_NUMBER() OVER (PARTITION BY cluster ORDER BY total_s DESC, statement) AS place
  FROM (
    SELECT cluster, statement, COUNT(*) AS runs, SUM(run_s) AS total_s, MAX(run_s) AS max_s,
           SUM(alerted) AS with_alerts, substr(CAST(MAX(started_at) AS VARCHAR), 1, 16) AS last_run
    FROM (
{{rows}}
    ) AS statement_rows
    GROUP BY cluster, statement
  ) AS grouped
) AS ranked
WHERE place <= {{top}}
ORDER BY cluster, place
