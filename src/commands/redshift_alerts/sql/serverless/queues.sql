-- Queue rows of Serverless workgroups: sys_query_history (times in microseconds).
SELECT {{cluster}} AS cluster, service_class_id AS service_class, queue_time AS queue_us,
       execution_time AS exec_us
FROM {{table sys_query_history}}
WHERE {{partitions}} AND start_time >= {{since}} AND start_time < {{until}}
