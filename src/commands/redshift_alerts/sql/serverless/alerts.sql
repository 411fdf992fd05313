-- Alert rows of Serverless workgroups: sys_query_detail.alert (Serverless names no solution).
SELECT {{cluster}} AS cluster, trim(alert) AS event, '' AS solution, query_id AS query, start_time AS seen_at
FROM {{table sys_query_detail}}
WHERE {{partitions}} AND start_time >= {{since}} AND start_time < {{until}}
  AND trim(alert) <> ''
