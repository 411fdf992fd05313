-- Slow rows of Serverless workgroups: sys_query_history, whose query_text holds the first 4,000
-- characters in one piece (times in microseconds).
SELECT {{cluster}} AS cluster, query_id AS query, user_id, service_class_id AS service_class,
       start_time AS started_at, CAST(round(elapsed_time / 1e6) AS BIGINT) AS elapsed_s,
       queue_time AS queue_us, 0 AS sequence, query_text AS text
FROM {{table sys_query_history}}
WHERE {{partitions}} AND start_time >= {{since}} AND start_time < {{until}}
