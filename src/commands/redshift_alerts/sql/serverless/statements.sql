-- Statement rows of Serverless workgroups: sys_query_history (elapsed_time in microseconds),
-- and whether sys_query_detail holds an alert for the query.
SELECT {{cluster h}} AS cluster, trim(h.query_text) AS statement, h.query_id AS query,
       CAST(round(h.elapsed_time / 1e6) AS BIGINT) AS run_s, h.start_time AS started_at,
       CASE WHEN a.query_id IS NULL THEN 0 ELSE 1 END AS alerted
FROM {{table sys_query_history}} AS h
LEFT JOIN (
  SELECT DISTINCT {{cluster}} AS cluster, query_id
  FROM {{table sys_query_detail}}
  WHERE {{partitions}} AND start_time >= {{since}} AND start_time < {{until}} AND trim(alert) <> ''
) AS a ON a.cluster = {{cluster h}} AND a.query_id = h.query_id
WHERE {{partitions h}} AND h.start_time >= {{since}} AND h.start_time < {{until}} AND h.user_id > 1
