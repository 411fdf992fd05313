-- Query rows of Serverless workgroups: sys_query_history.
SELECT {{cluster}} AS cluster, start_time AS started_at
FROM {{table sys_query_history}}
WHERE {{partitions}} AND start_time >= {{since}} AND start_time < {{until}}
