-- Query alerts by table (Redshift's diagnostic "reviewing query alerts by table"): per cluster,
-- table and event, how many alerts, the scan time in seconds and a sample query; the top N.
-- Over the table-alert rows: cluster, table_name, event, solution, query, scan_s.
SELECT cluster, table_name, alerts, scan_s, sample_query, event, solution
FROM (
  SELECT cluster, table_name, event, solution, alerts, scan_s, sample_query,
         ROW_NUMBER() OVER (PARTITION BY cluster ORDER BY alerts DESC, scan_s DESC, table_name) AS place
  FROM (
    SELECT cluster, table_name, event, solution, COUNT(*) AS alerts,
           coalesce(SUM(scan_s), 0) AS scan_s, MAX(query) AS sample_query
    FROM (
{{rows}}
    ) AS table_rows
    GROUP BY cluster, table_name, event, solution
  ) AS grouped
) AS ranked
WHERE place <= {{top}}
ORDER BY cluster, place
