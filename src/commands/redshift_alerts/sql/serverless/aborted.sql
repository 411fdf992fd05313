-- Aborted rows of Serverless workgroups: sys_query_history with status canceled or failed.
SELECT {{cluster}} AS cluster, user_id, query_id AS query, start_time AS started_at
FROM {{table sys_query_history}}
WHERE {{partitions}} AND start_time >= {{since}} AND start_time < {{until}}
  AND trim(status) IN ('canceled', 'failed')
