-- Wait rows of provisioned clusters: stl_wlm_query, queries that queued (users above 1).
SELECT {{cluster}} AS cluster, query, service_class, queue_start_time AS queued_at,
       total_queue_time AS queue_us, total_exec_time AS exec_us
FROM {{table stl_wlm_query}}
WHERE {{partitions}} AND queue_start_time >= {{since}} AND queue_start_time < {{until}}
  AND total_queue_time > 0 AND userid > 1
