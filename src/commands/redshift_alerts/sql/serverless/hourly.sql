-- Query rows of Serverless workgroups: sys_query_history.
SELECT cluster, start_time AS started_at
FROM sys_query_history
WHERE {{partitions}} AND start_time >= {{since}} AND start_time < {{until}}
