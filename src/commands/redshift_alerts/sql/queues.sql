-- Queue wait and execution time per service class: p50, p95 (nearest rank, which both Athena
-- and DuckDB can compute: no approx_percentile), max, count. Times in microseconds.
-- Over the WLM rows of the clusters: cluster, service_class, queue_us, exec_us.
SELECT cluster, service_class, COUNT(*) AS queries,
       MIN(CASE WHEN queue_rank >= CEIL(0.50 * n) THEN queue_us END) AS queue_p50_us,
       MIN(CASE WHEN queue_rank >= CEIL(0.95 * n) THEN queue_us END) AS queue_p95_us,
       MAX(queue_us) AS queue_max_us,
       MIN(CASE WHEN exec_rank >= CEIL(0.50 * n) THEN exec_us END) AS exec_p50_us,
       MIN(CASE WHEN exec_rank >= CEIL(0.95 * n) THEN exec_us END) AS exec_p95_us,
       MAX(exec_us) AS exec_max_us
FROM (
  SELECT cluster, service_class, queue_us, exec_us,
         ROW_NUMBER() OVER (PARTITION BY cluster, service_class ORDER BY queue_us) AS queue_rank,
         ROW_NUMBER() OVER (PARTITION BY cluster, service_class ORDER BY exec_us) AS exec_rank,
         COUNT(*) OVER (PARTITION BY cluster, service_class) AS n
  FROM (
{{rows}}
  ) AS wlm_rows
) AS timed
GROUP BY cluster, service_class
