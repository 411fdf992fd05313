-- Queue wait times (Redshift's diagnostic "reviewing queue wait times for queries"): the N
-- queries of each cluster that waited longest in a WLM queue, with their run time, in seconds.
-- Over the wait rows: cluster, query, service_class, queued_at, queue_us, exec_us.
SELECT cluster, query, class, queued_at, queue_s, exec_s
FROM (
  SELECT cluster, query, service_class AS class,
         substr(CAST(queued_at AS VARCHAR), 1, 16) AS queued_at,
         round(queue_us / 1e6, 2) AS queue_s, round(exec_us / 1e6, 2) AS exec_s,
         ROW_NUMBER() OVER (PARTITION BY cluster ORDER BY queue_us DESC, query) AS place
  FROM (
{{rows}}
  ) AS wait_rows
) AS ranked
WHERE place <= {{top}}
ORDER BY cluster, place
