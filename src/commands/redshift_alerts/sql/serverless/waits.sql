-- Wait rows of Serverless workgroups: sys_query_history, queries that queued.
SELECT {{cluster}} AS cluster, query_id AS query, service_class_id AS service_class,
       start_time AS queued_at, queue_time AS queue_us, execution_time AS exec_us
FROM {{table sys_query_history}}
WHERE {{partitions}} AND start_time >= {{since}} AND start_time < {{until}}
  AND queue_time > 0 AND user_id > 1
